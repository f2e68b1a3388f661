/**
 * A page for Node tests: the RPC client pages run (the same module) on ws,
 * or on Node's fetch for the transport without WebSocket, with the browser
 * functions the server serves, and a network the test can break: cut the
 * connection, hold, delay, duplicate or drop frames.
 */
import { WebSocket } from 'ws'
import { RpcClient, type ConnectOptions, type PageFunction, type SocketLike } from './browser/client.js'
import type { FetchLike } from './browser/sse-transport.js'
import { encodeEvent } from '../sse/format.js'
import { SSEParser } from '../sse/parser.js'

/**
 * Options of a test page: the client's (`transports: ['sse']` for the
 * transport without WebSocket; by default WebSocket, then SSE as a page does),
 * plus headers for the requests (cookies, auth) and the RPC prefix.
 */
export interface TestPageOptions extends Partial<Omit<ConnectOptions, 'url' | 'sseUrl' | 'WebSocket' | 'fetch' | 'module'>> {
  /** Headers of each upgrade request and each request of the SSE transport (a cookie, an authorization). */
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
   * frames of one turn; over SSE, a POST), then cuts the connection (TCP
   * loses frames only with the connection that carried them).
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
  // The SSE transport's requests in flight: its streams and POSTs.
  requests: Set<AbortController>
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
  const state: FaultState = { held: null, delay: 0, duplicate: false, drop: 0, sockets: new Set(), requests: new Set() }
  const url = new URL('socket', root)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  const client = await new RpcClient({
    ...connect,
    url: url.href,
    sseUrl: new URL('stream', root).href,
    WebSocket: faultySocket(state, headers),
    fetch: faultyFetch(state, headers),
    module: { hash, functions }
  }).start()
  return {
    client,
    faults: {
      cut: () => { cut(state) },
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

// Cuts every connection as a network would: sockets terminated, the SSE transport's requests aborted.
function cut (state: FaultState): void {
  for (const socket of state.sockets) socket.terminate()
  for (const request of state.requests) request.abort()
}

// Runs `deliver` now, later, twice or when released, as the faults of `state` say.
function pass (state: FaultState, deliver: () => void): void {
  const once = state.duplicate ? () => { deliver(); deliver() } : deliver
  const timed = state.delay > 0 ? () => { setTimeout(once, state.delay) } : once
  if (state.held !== null) state.held.push(timed)
  else timed()
}

// A WebSocket constructor for the client whose sockets go through the faults of `state`.
function faultySocket (state: FaultState, headers: Record<string, string> | undefined): NonNullable<ConnectOptions['WebSocket']> {
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
        pass(state, () => { if (socket.readyState === socket.OPEN) this.onmessage?.({ data: text }) })
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
      pass(state, () => { if (socket.readyState === socket.OPEN) socket.send(text) })
    }

    close (code?: number, reason?: string): void {
      this.#socket.close(code, reason)
    }
  }
}

/**
 * The SSE transport's fetch, through the faults of `state`: each event of a
 * stream, and each POST of frames, held, delayed, duplicated or dropped as a
 * WebSocket message would be; `cut` aborts them all.
 */
function faultyFetch (state: FaultState, headers: Record<string, string> | undefined): FetchLike {
  return async (url, init) => {
    const request = new AbortController()
    state.requests.add(request)
    const done = (): void => { state.requests.delete(request) }
    const signal = init.signal === undefined || init.signal === null ? request.signal : AbortSignal.any([init.signal, request.signal])
    const sent = { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) }, signal }
    if (new URL(url).pathname.endsWith('/stream')) {
      const response = await fetch(url, sent).catch((error: unknown) => { done(); throw error })
      if (!response.ok || response.body === null) {
        done()
        return response
      }
      return new Response(faultyEvents(state, response.body, done), { status: response.status, headers: response.headers })
    }
    try {
      if (state.drop > 0) {
        // Lost on the way: the page is told it went, as TCP would; the connection dies after the last one.
        if (--state.drop === 0) queueMicrotask(() => { cut(state) })
        return new Response(null, { status: 204 })
      }
      if (state.held !== null || state.delay > 0) await new Promise<void>((resolve) => { pass({ ...state, duplicate: false }, resolve) })
      if (!state.duplicate) return await fetch(url, sent)
      await (await fetch(url, sent)).arrayBuffer()
      return await fetch(url, sent)
    } finally {
      done()
    }
  }
}

// The events of a stream's body, each passed through the faults; the body's end after them, its failure at once.
function faultyEvents (state: FaultState, body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  const parser = new SSEParser()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let live = true
  return new ReadableStream<Uint8Array>({
    start (controller) {
      const deliver = (text: string): void => { if (live) controller.enqueue(encoder.encode(text)) }
      const pump = async (): Promise<void> => {
        // Until the body ends or fails (the server's end, a cut).
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            const text = encodeEvent({ event: event.event === 'message' ? undefined : event.event, id: event.id === '' ? undefined : event.id, data: event.data })
            pass(state, () => { deliver(text) })
          }
        }
        pass({ ...state, duplicate: false }, () => {
          if (!live) return
          live = false
          controller.close()
        })
      }
      pump().catch((error: unknown) => {
        // A connection lost takes what it held with it.
        if (!live) return
        live = false
        controller.error(error)
      }).finally(done)
    },
    cancel (reason) {
      live = false
      return reader.cancel(reason)
    }
  })
}
