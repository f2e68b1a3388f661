/**
 * HTTP/1.1 chunk framing for the direct write path of an SSE stream: on a plain
 * chunked HTTP/1.1 response whose head is out, an event framed once as
 * `<hex size>\r\n<bytes>\r\n` and handed to `res.socket.write()` is exactly
 * what `res.write()` would send, without its per-call work (a cork, a
 * `process.nextTick` to uncork, four buffered pieces and a writev).
 */
import { OutgoingMessage } from 'node:http'
import type { Socket } from 'node:net'

/** The socket of an HTTP/1 response, as node:http's server sees it. */
export type ResponseSocket = Socket & { _httpMessage?: unknown }

// What node:http's ServerResponse (lib/_http_outgoing.js, Node 20 to 24) keeps
// about its framing; an HTTP/2 compatibility response has none of it.
interface Http1Response {
  readonly write?: unknown
  readonly writableEnded?: boolean
  readonly chunkedEncoding?: boolean
  readonly _headerSent?: boolean
  readonly outputSize?: number
  readonly socket?: ResponseSocket | null
}

const CRLF = 0x0d0a

/**
 * Frames event bytes as one HTTP/1.1 chunk, the bytes `res.write()` would send for them.
 * @example frameChunk('data: 1\n\n') // '9\r\ndata: 1\n\n\r\n'
 */
export function frameChunk (encoded: Buffer): Buffer
export function frameChunk (encoded: string): string
export function frameChunk (encoded: string | Buffer): string | Buffer
export function frameChunk (encoded: string | Buffer): string | Buffer {
  if (typeof encoded === 'string') return Buffer.byteLength(encoded).toString(16) + '\r\n' + encoded + '\r\n'
  const size = encoded.length.toString(16)
  const chunk = Buffer.allocUnsafe(size.length + encoded.length + 4)
  const at = chunk.write(size, 0, 'latin1')
  chunk.writeUInt16BE(CRLF, at)
  encoded.copy(chunk, at + 2)
  chunk.writeUInt16BE(CRLF, chunk.length - 2)
  return chunk
}

/**
 * Event bytes handed to many subscribers, with the same bytes framed as an
 * HTTP/1.1 chunk on first need: the framing is done once per event, however
 * many streams write it straight to their socket, and never when none does.
 * @example new SharedEvent(Buffer.from('data: 1\n\n')).chunk // <Buffer 39 0d 0a ...>
 */
export class SharedEvent {
  /** The unframed event bytes (what every transport other than a direct HTTP/1.1 write receives). */
  readonly bytes: Buffer
  #chunk: Buffer | null = null

  constructor (bytes: Buffer) {
    this.bytes = bytes
  }

  /** The bytes as one HTTP/1.1 chunk, framed on first use. */
  get chunk (): Buffer {
    return (this.#chunk ??= frameChunk(this.bytes))
  }
}

/**
 * The socket an event may be written to directly as a pre-framed chunk, or
 * null when `res.write()` must frame and send it: on anything but a chunked
 * HTTP/1.1 response whose head is out (HTTP/2, Content-Length, HEAD, 204/304,
 * HTTP/1.0), once the response has ended, when `res.write` is not node's own (a middleware or subclass that
 * compresses or counts must see every byte), when the response is not (or no
 * longer) the one on its socket, or buffers bytes of its own, and while the
 * socket is corked (a `res.write()` or `res.cork()` in this tick: its bytes
 * wait in the cork, so ours wait with them).
 * @example const socket = directSocket(res); if (socket !== null) socket.write(frameChunk(bytes))
 */
export function directSocket (res: object): ResponseSocket | null {
  const http1 = res as Http1Response
  // `chunkedEncoding` is exactly when node:http frames what `write()` gets (set with the head).
  if (http1.chunkedEncoding !== true || http1._headerSent !== true || http1.outputSize !== 0) return null
  // Ended behind the stream's back: res.write() reports that; bytes after the last chunk would corrupt the next response.
  if (http1.writableEnded !== false || http1.write !== OutgoingMessage.prototype.write) return null
  const socket = http1.socket
  if (socket == null || socket._httpMessage !== res || !socket.writable || socket.writableCorked !== 0) return null
  return socket
}

// A counter of event-loop turns, advanced by one nextTick per turn in which a
// direct write happened (not one per write).
let turn = 0
let turnEnding = false

function endTurn (): void {
  turn++
  turnEnding = false
}

/**
 * The current turn of the event loop, as a number that changes once per turn.
 * @example const burst = stream.lastTurn === currentTurn()
 */
export function currentTurn (): number {
  if (!turnEnding) {
    turnEnding = true
    process.nextTick(endTurn)
  }
  return turn
}

function uncork (socket: ResponseSocket): void {
  socket.uncork()
}

/**
 * Corks `socket` until the next tick, as `res.write()` does for every write:
 * used from a stream's second direct write in one turn, so a burst leaves in
 * one writev while a lone write per turn (a fan-out) goes out at once.
 * @example corkUntilNextTick(socket); socket.write(chunk)
 */
export function corkUntilNextTick (socket: ResponseSocket): void {
  socket.cork()
  process.nextTick(uncork, socket)
}
