/**
 * Where a resource client reaches into ws's Receiver, read from ws 8.23.0
 * (lib/receiver.js, lib/websocket.js). test/websocket/ws-internals.test.ts
 * checks each piece, so a ws that changes shape fails there, loudly.
 * - Holding messages: the Receiver parses every frame of a chunk it was
 *   given, and `WebSocket.pause()` only stops further reads, so a paused
 *   client would still get every message of a 64 KiB read (thousands of tiny
 *   ones). Its parse loop is stopped instead: the bytes stay bytes.
 * - A message in progress: the Receiver knows when it holds part of a frame
 *   or the first fragments of a message; nothing public says so.
 */
import type { Duplex, Writable } from 'node:stream'
import type { WebSocket } from 'ws'

interface Receiver extends Writable {
  // Bytes read and not parsed yet.
  _bufferedBytes: number
  // The opcode of a fragmented message being received, 0 between messages.
  _fragmented: number
  // Where the parser is within a frame: BETWEEN_FRAMES, or reading a header or a payload.
  _state: number
  // The parse loop goes on to the next frame of the chunk while true.
  _loop: boolean
  // Parses what is buffered; called by `_write()` with the write's callback.
  startLoop: (callback: (error?: Error) => void) => void
}

// Both set by ws's setSocket() before a server emits 'connection', never unset.
type InternalSocket = WebSocket & { _receiver: Receiver, _socket: Duplex }

// GET_INFO in lib/receiver.js: waiting for the first bytes of a frame.
const BETWEEN_FRAMES = 0

const NO_BYTES = Buffer.alloc(0)

function receiverOf (socket: WebSocket): Receiver {
  return (socket as InternalSocket)._receiver
}

/**
 * Stops parsing `socket`'s input after the message being emitted: what
 * follows is kept as bytes until `releaseMessages()`. The network is still
 * read (so a peer that drops the connection is seen at once) until more than
 * `maxUnparsedBytes` wait, then the socket is paused.
 * @example holdMessages(socket, 1024 * 1024)
 */
export function holdMessages (socket: WebSocket, maxUnparsedBytes: number): void {
  const receiver = receiverOf(socket)
  receiver._loop = false
  receiver.startLoop = function keepUnparsed (this: Receiver, callback) {
    if (this._bufferedBytes > maxUnparsedBytes) socket.pause()
    callback()
  }
}

/**
 * Parses again what `holdMessages()` kept (synchronously: its messages are
 * emitted before this returns) and reads the network again.
 * @example releaseMessages(socket)
 */
export function releaseMessages (socket: WebSocket): void {
  const receiver = receiverOf(socket)
  if (!Object.hasOwn(receiver, 'startLoop')) return
  Reflect.deleteProperty(receiver, 'startLoop')
  socket.resume()
  // An empty write runs ws's own parse loop over the kept bytes, errors handled as ws handles them.
  if (receiver._bufferedBytes > 0 && receiver.writable) receiver.write(NO_BYTES)
}

/**
 * True while part of a message has been read: a frame cut short, or the
 * first fragments of a message.
 * @example if (messageInProgress(socket)) startTimer()
 */
export function messageInProgress (socket: WebSocket): boolean {
  const receiver = receiverOf(socket)
  return receiver._fragmented !== 0 || receiver._state !== BETWEEN_FRAMES || receiver._bufferedBytes > 0
}

/**
 * The network socket under a ws socket.
 * @example networkSocket(socket).on('data', onData)
 */
export function networkSocket (socket: WebSocket): Duplex {
  return (socket as InternalSocket)._socket
}
