/**
 * WebSocket test helpers: a real `ws` client on loopback that records what it
 * receives and how the server closed it, and a raw HTTP upgrade for the
 * answers a server gives before the 101.
 */
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import WebSocket, { type ClientOptions } from 'ws'

export interface TestClient {
  socket: WebSocket
  /** Messages received, text as strings and binary as Buffers. */
  messages: Array<string | Buffer>
  /** Resolves with the n-th message (0-based). */
  message: (index: number) => Promise<string | Buffer>
  /** Resolves with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number, reason: string }>
}

/** Opens a WebSocket to `url` and resolves once it is open. */
export function connect (url: string, protocols?: string | string[], options?: ClientOptions): Promise<TestClient> {
  const socket = new WebSocket(url, protocols, options)
  return new Promise((resolve, reject) => {
    const client = recordClient(socket)
    socket.once('open', () => { resolve(client) })
    socket.once('unexpected-response', (_request, response) => { reject(new Error(`unexpected response ${response.statusCode ?? 0}`)) })
    socket.once('error', reject)
  })
}

/** Records what a ws socket receives. */
export function recordClient (socket: WebSocket): TestClient {
  const messages: Array<string | Buffer> = []
  const waiters = new Map<number, (message: string | Buffer) => void>()
  socket.on('message', (data, isBinary) => {
    const message = isBinary ? data as Buffer : String(data)
    messages.push(message)
    waiters.get(messages.length - 1)?.(message)
  })
  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    socket.once('close', (code, reason) => { resolve({ code, reason: String(reason) }) })
  })
  socket.on('error', () => {})
  return {
    socket,
    messages,
    closed,
    message: (index) => {
      const message = messages[index]
      if (message !== undefined) return Promise.resolve(message)
      return new Promise((resolve) => { waiters.set(index, resolve) })
    }
  }
}

/** What a server answers to an upgrade it refuses: status, headers and body. */
export function upgradeResponse (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    // A refused upgrade's socket is destroyed after the answer: never reuse it.
    const request = http.get(url, {
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers
      }
    })
    request.on('upgrade', (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' })
    })
    request.on('response', (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, headers: response.headers, body }) })
    })
    request.on('error', reject)
  })
}

/** The ws URL of an app listening at `base` (http://127.0.0.1:port). */
export function wsUrl (base: string, path: string): string {
  return base.replace(/^http/, 'ws') + path
}
