/**
 * One WebSocket frame for many sockets: a broadcast frames its message once,
 * with ws's own `Sender.frame`, and writes the same bytes to every socket on
 * which ws would have sent exactly them, without ws's per-send work (an options
 * object, a frame header, a cork and a two-piece writev for each socket).
 */
import * as wsModule from 'ws'
import type { WebSocket } from 'ws'
import { encodeMessage, type OutgoingMessage } from './message.js'

// ws 8's framing function (lib/sender.js): `Sender` is exported by ws but not declared by @types/ws.
interface FrameOptions { fin: boolean, opcode: number, mask: boolean, readOnly: boolean, rsv1: boolean }
type FrameFunction = (data: Buffer, options: FrameOptions) => Buffer[]
const frameFunction = (wsModule as unknown as { Sender?: { frame?: unknown } }).Sender?.frame
const frame = typeof frameFunction === 'function' ? frameFunction as FrameFunction : null

const TEXT = 0x1
const BINARY = 0x2
// ws's Sender state in which it writes at once (not compressing, not reading a Blob).
const SENDER_IDLE = 0

/** What ws 8 (lib/websocket.js, lib/sender.js) keeps about a socket's sending that the direct path reads. */
export interface FrameSender {
  /** DEFAULT (0) while nothing waits: any other state queues later sends behind the one in progress. */
  readonly _state: number
  /** False while a fragmented message (`send(…, { fin: false })`) is unfinished: the next frame continues it. */
  readonly _firstFragment: boolean
  /** The TCP (or TLS) socket the frames go to. */
  readonly _socket: { write: (chunk: Buffer, callback?: () => void) => boolean }
}

/**
 * A message handed to many sockets: its encoded bytes, and the same bytes as
 * one unmasked WebSocket frame, made on first need (once per broadcast however
 * many sockets take it, never when none does).
 * @example new SharedMessage(Buffer.from('hi'), false).frame // <Buffer 81 02 68 69>
 */
export class SharedMessage {
  /** The message bytes (what a socket that cannot take the frame is sent through ws). */
  readonly bytes: Buffer
  /** Sent as a binary message rather than text. */
  readonly binary: boolean
  #frame: Buffer | null = null

  constructor (bytes: Buffer, binary: boolean) {
    this.bytes = bytes
    this.binary = binary
  }

  /**
   * A message encoded once for many sockets: text and JSON as UTF-8 bytes, bytes as binary.
   * @example SharedMessage.of({ n: 1 }).bytes.toString() // '{"n":1}'
   */
  static of (message: OutgoingMessage): SharedMessage {
    const { data, binary } = encodeMessage(message)
    return new SharedMessage(typeof data === 'string' ? Buffer.from(data) : data, binary)
  }

  /**
   * The message as one final, unmasked, uncompressed frame, framed by ws on
   * first use; null with a ws that does not export its framing function (then
   * every message goes through `ws.send()`).
   */
  get frame (): Buffer | null {
    if (frame === null) return null
    return (this.#frame ??= Buffer.concat(frame(this.bytes, { fin: true, opcode: this.binary ? BINARY : TEXT, mask: false, readOnly: false, rsv1: false })))
  }
}

/**
 * The sender of a server-side ws socket whose messages may be written as
 * pre-framed bytes, or null when each must go through `socket.send()`: on a
 * client-side socket (its frames are masked), when the connection negotiated
 * an extension (permessage-deflate compresses, and queues while it does), or
 * when this ws does not have the internals the direct path relies on (then
 * every message takes ws's own path, correct if slower). Checked once per
 * connection; `writesDirectly` is checked per message.
 * @example const sender = frameSender(socket); if (sender !== null && writesDirectly(sender)) sender._socket.write(message.frame)
 */
export function frameSender (socket: WebSocket): FrameSender | null {
  if (frame === null || socket.extensions !== '') return null
  const internals = socket as unknown as { _isServer?: unknown, _sender?: Partial<FrameSender> | null }
  const sender = internals._sender
  if (internals._isServer !== true || typeof sender?._state !== 'number' || typeof sender._firstFragment !== 'boolean' || typeof sender._socket?.write !== 'function') return null
  return sender as FrameSender
}

/**
 * True when ws would write the next message at once as a frame of its own:
 * nothing it is still preparing (a Blob, say) that the frame must not
 * overtake, and no fragmented message it would have to continue.
 * @example if (writesDirectly(sender)) sender._socket.write(message.frame)
 */
export function writesDirectly (sender: FrameSender): boolean {
  return sender._state === SENDER_IDLE && sender._firstFragment
}
