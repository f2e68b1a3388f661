/**
 * Shared test helpers: a listening app on loopback, a raw HTTP/1.1 event-stream
 * client that parses events as they arrive, a log capture, and a recorder of
 * a diagnostics channel.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { Writable, type Readable } from 'node:stream'
import zlib from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { SSEParser, type ParsedEvent } from '../src/sse/parser.js'
import type { DiagnosticMessages } from '../src/diagnostics.js'

/** Listens on a free loopback port and returns the base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

export interface StreamClient {
  response: IncomingMessage
  status: number
  headers: IncomingHttpHeaders
  events: ParsedEvent[]
  comments: string[]
  /** Everything received so far. */
  text: () => string
  /** Resolves with the n-th event (0-based) once it has arrived. */
  event: (index: number) => Promise<ParsedEvent>
  /** Resolves once at least `count` comments have arrived. */
  comment: (count?: number) => Promise<void>
  /** Resolves when the server ends the response (or the connection closes). */
  ended: Promise<void>
  /** True once the body ended cleanly: all of it read and, when decoding, decoded to its last frame. */
  cleanEnd: () => boolean
  /** The decoder's error, if the compressed body was not valid. */
  decodeError: () => Error | undefined
  /** Destroys the connection (the client goes away). */
  destroy: () => void
}

export interface StreamRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
  agent?: http.Agent
  /** Decode the body by its Content-Encoding as it arrives, the way a browser does. */
  decode?: boolean
}

/** A streaming decoder for a Content-Encoding, or undefined for identity. */
export function decoderFor (encoding: string | undefined): (zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress) | undefined {
  switch (encoding) {
    case 'gzip': return zlib.createGunzip()
    case 'deflate': return zlib.createInflate()
    case 'br': return zlib.createBrotliDecompress()
    case 'zstd': return (zlib as unknown as { createZstdDecompress: () => zlib.Gunzip }).createZstdDecompress()
    default: return undefined
  }
}

/** Opens an event stream over a real socket; resolves once the head has arrived. */
export function openStream (url: string, request: StreamRequest = {}): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: request.method ?? 'GET', headers: request.headers, agent: request.agent ?? false })
    req.on('error', reject)
    req.on('response', (response) => {
      const parser = new SSEParser()
      const events: ParsedEvent[] = []
      let text = ''
      const waiters = new Set<() => void>()
      const wake = (): void => { for (const waiter of [...waiters]) waiter() }
      let body: Readable = response
      let decodeError: Error | undefined
      let cleanEnd = false
      const decoder = request.decode === true ? decoderFor(response.headers['content-encoding']) : undefined
      if (decoder !== undefined) {
        body = response.pipe(decoder)
        decoder.on('error', (error) => { decodeError = error })
        // A connection cut mid-stream never ends the decoder by itself.
        response.on('close', () => { if (!response.complete) decoder.destroy() })
      }
      let ended = false
      const endedPromise = new Promise<void>((resolve) => {
        body.on('end', () => { ended = true; cleanEnd = true; resolve(); wake() })
        body.on('close', () => { ended = true; resolve(); wake() })
      })
      body.setEncoding('utf8')
      body.on('data', (chunk: string) => {
        text += chunk
        events.push(...parser.push(chunk))
        wake()
      })
      response.on('error', () => {})
      const until = (done: () => boolean, what: string): Promise<void> => new Promise((resolve, reject) => {
        const check = (): void => {
          if (done()) {
            waiters.delete(check)
            resolve()
          } else if (ended) {
            waiters.delete(check)
            reject(new Error(`stream ended before ${what}; received: ${JSON.stringify(text)}`))
          }
        }
        waiters.add(check)
        check()
      })
      resolve({
        response,
        status: response.statusCode as number,
        headers: response.headers,
        events,
        comments: parser.comments,
        text: () => text,
        event: async (index) => {
          await until(() => events.length > index, `event ${index}`)
          return events[index] as ParsedEvent
        },
        comment: (count = 1) => until(() => parser.comments.length >= count, `${count} comments`),
        ended: endedPromise,
        cleanEnd: () => cleanEnd,
        decodeError: () => decodeError,
        destroy: () => { req.destroy() }
      })
    })
    if (request.body !== undefined) req.write(request.body)
    req.end()
  })
}

/** A pino destination that keeps every log line, parsed. */
export function logCapture (): { stream: Writable, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      callback()
    }
  })
  return { stream, lines }
}

/**
 * Fetches an example's page, checks it is HTML (loading the Datastar client
 * when `app` is given), and returns it.
 */
export async function fetchPage (t: Test, url: string, path: string, app?: FastifyInstance): Promise<string> {
  const response = await fetch(`${url}${path}`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/html/)
  const html = await response.text()
  if (app !== undefined) t.ok(html.includes(`<script type="module" src="${app.datastarUrl()}"></script>`), 'the client script tag')
  return html
}

/** Resolves on the next turn of the event loop once `condition` holds. */
export async function waitFor (condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A promise that handlers under test wait on, resolved when the test calls `open()`. */
export function gate (): { opened: Promise<void>, open: () => void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { opened, open }
}

/** Rejects with a clear message if `promise` has not settled within `limitMs` (a bound, not a measurement). */
export function within<T> (promise: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${limitMs} ms`)), limitMs)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Why zstd tests skip on this runtime, or false when it has zstd. */
export const ZSTD_SKIP: string | false = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function'
  ? false
  : `zstd needs zlib.createZstdCompress (Node >= 22.15); this is Node ${process.versions.node}`

/** Subscribes to a diagnostics channel, by name as users do, until the test ends; returns the messages it gets. */
export function recordChannel<Name extends keyof DiagnosticMessages> (t: Test, name: Name): Array<DiagnosticMessages[Name]> {
  const messages: Array<DiagnosticMessages[Name]> = []
  const listener = (message: unknown): void => { messages.push(message as DiagnosticMessages[Name]) }
  subscribe(name, listener)
  t.teardown(() => { unsubscribe(name, listener) })
  return messages
}
