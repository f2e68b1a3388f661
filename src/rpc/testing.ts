/**
 * A page for Node tests: the RPC client pages run (the same module) on ws,
 * with the browser functions the server serves, and a network the test can
 * break: cut the connection, hold, delay, duplicate or drop frames.
 */
import { WebSocket } from 'ws'
import { RpcClient, type ConnectOptions, type PageFunction, type SocketLike } from './browser/client.js'

/** Options of a test page: the client's, plus headers for the upgrade (cookies, auth) and the RPC prefix. */
export interface TestPageOptions extends Partial<Omit<ConnectOptions, 'url' | 'WebSocket' | 'module'>> {
  /** Headers of each upgrade request (a cookie, an authorization). */
  headers?: Record<string, string>
  /** The plugin's prefix. Default `/rpc`. */
  prefix?: string
}

/** The faults a test can inject between its page and the server. */
export interface Faults {
  /** Cuts the connection as a network would (no close frame): the page reconnects and resumes its session. */
  cut: () => void
  /** Holds every frame, both ways, until `release()`. */
  hold: () => void
  /** Delivers the held frames, in order, and stops holding. */
  release: () => void
  /** Delays each frame by `ms`, both ways (0: none). */
  delay: (ms: number) => void
  /** Delivers each frame twice, both ways, while on. */
  duplicate: (on: boolean) => void
  /**
   * Drops the next `count` messages the page sends (a message carries the
   * frames of one turn), then cuts the connection (TCP loses frames only with
   * the connection that carried them).
   */
  dropOutgoing: (count: number) => void
}

/** A connected test page. */
export interface TestPage {
  client: RpcClient
  faults: Faults
}

interface FaultState {
  held: Array<() => void> | null
  delay: number
  duplicate: boolean
  drop: number
  sockets: Set<WebSocket>
}

/**
 * Opens a page's session with the RPC server at `base` (`http://127.0.0.1:3000`), for tests.
 * @example
 * const { client, faults } = await connectTestPage(base, { functions: { confirm: () => true } })
 * faults.cut() // the page resumes its session on its own
 */
export async function connectTestPage (base: string, options: TestPageOptions = {}): Promise<TestPage> {
  const { headers, prefix = '/rpc', ...connect } = options
  const root = new URL(prefix + '/', base)
  const entry = await (await fetch(new URL('client.js', root))).text()
  const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1]
  if (hash === undefined) throw new Error(`no RPC client at ${root.href}client.js`)
  const source = await (await fetch(new URL(`functions.${hash}.js`, root))).text()
  const { functions } = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { functions: Record<string, PageFunction> }
  const state: FaultState = { held: null, delay: 0, duplicate: false, drop: 0, sockets: new Set() }
  const url = new URL('socket', root)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  const client = await new RpcClient({
    ...connect,
    url: url.href,
    WebSocket: faultySocket(state, headers),
    module: { hash, functions }
  }).start()
  return {
    client,
    faults: {
      cut: () => { for (const socket of state.sockets) socket.terminate() },
      hold: () => { state.held ??= [] },
      release: () => {
        const held = state.held ?? []
        state.held = null
        for (const deliver of held) deliver()
      },
      delay: (ms) => { state.delay = ms },
      duplicate: (on) => { state.duplicate = on },
      dropOutgoing: (count) => { state.drop = count }
    }
  }
}

// A WebSocket constructor for the client whose sockets go through the faults of `state`.
function faultySocket (state: FaultState, headers: Record<string, string> | undefined): NonNullable<ConnectOptions['WebSocket']> {
  // Runs `deliver` now, later, twice or when released, as the faults say.
  const pass = (deliver: () => void): void => {
    const once = state.duplicate ? () => { deliver(); deliver() } : deliver
    const timed = state.delay > 0 ? () => { setTimeout(once, state.delay) } : once
    if (state.held !== null) state.held.push(timed)
    else timed()
  }
  return class FaultySocket implements SocketLike {
    onopen: SocketLike['onopen'] = null
    onmessage: SocketLike['onmessage'] = null
    onclose: SocketLike['onclose'] = null
    onerror: SocketLike['onerror'] = null
    readonly #socket: WebSocket

    constructor (url: string) {
      const socket = new WebSocket(url, { headers })
      this.#socket = socket
      state.sockets.add(socket)
      socket.on('open', () => { this.onopen?.(undefined) })
      socket.on('message', (data, binary) => {
        const text = binary ? data : String(data)
        pass(() => { if (socket.readyState === socket.OPEN) this.onmessage?.({ data: text }) })
      })
      socket.on('close', (code, reason) => {
        state.sockets.delete(socket)
        this.onclose?.({ code, reason: String(reason) })
      })
      socket.on('error', (error) => { this.onerror?.(error) })
    }

    get readyState (): number {
      return this.#socket.readyState
    }

    send (text: string): void {
      if (state.drop > 0) {
        if (--state.drop === 0) this.#socket.terminate()
        return
      }
      const socket = this.#socket
      pass(() => { if (socket.readyState === socket.OPEN) socket.send(text) })
    }

    close (code?: number, reason?: string): void {
      this.#socket.close(code, reason)
    }
  }
}
