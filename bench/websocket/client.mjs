// The load generator of bench/websocket, a child process of run.mjs (IPC).
//
// Two ways to be N clients:
//  - `frames` (the ws variants, and the socket.io diagnostic): N plain TCP
//    connections to 127.0.0.1, each upgraded with a hand-written handshake
//    (no permessage-deflate offered), then a minimal decoder of the server's
//    (unmasked) frames. Every read lands in one shared buffer (`onread`), so
//    the client allocates nothing per read and stays cheaper than the servers.
//    With `protocol: 'socket.io'` it speaks Engine.IO 4 / socket.io 5 itself:
//    it answers the open packet with a CONNECT ("40"), pings ("2") with pongs ("3").
//  - `socket.io-client`: N socket.io-client 4 sockets, transports: ['websocket']
//    (no polling), one Manager each (forceNew), a listener on 'm'.
// A message is counted when its text `@<round>,<seq>,<burst start>,<send time>,…`
// (servers/common.mjs) has been read; its latency is read from the send time
// the server put in it (µs of CLOCK_MONOTONIC, which process.hrtime reads in
// every process of this machine).
//
// With BENCH_CLIENT_WORKERS=K (run.mjs --client-workers K) the clients are
// split over K worker threads of this process, each with its own event loop;
// the main thread only relays and merges. That only helps with spare cores
// (see run.mjs --client-cpus); on a 2-vCPU machine one thread is the default.
//
// Connecting, counting a round, the worker threads and the IPC protocol with
// run.mjs ({ cmd: 'connect', port, n, path, protocol, client, sources },
// 'arm', 'close') are bench/common/client.mjs's.
import { CONNECT_TIMEOUT_MS, LoadGenerator, attempt, nowUs, openSocket, readResponseHead, runClient } from '../common/client.mjs'

const AT = 0x40 // '@'
const COMMA = 0x2c

// A frame longer than this is a protocol error here (the bench's are ~200 B).
const MAX_FRAME = 1 << 20

/**
 * Reads `@<round>,<seq>,<q>,<t>,` at `src[at]` (`src` a Buffer, or a string
 * when `text`) and counts the message if it belongs to the armed round.
 */
function onPayload (counter, src, text, at, end, now) {
  const round = generator.round
  if (round === null) return
  const get = (k) => k >= end ? -1 : text ? src.charCodeAt(k) : src[k]
  let i = at + 1
  let id = 0
  for (let c = get(i); c >= 48 && c <= 57; c = get(++i)) id = id * 10 + c - 48
  if (id !== round.id || get(i) !== COMMA) return
  for (let c = get(++i); c >= 48 && c <= 57; c = get(++i));
  if (get(i) !== COMMA) return
  let wanted = 0
  for (let c = get(++i); c >= 48 && c <= 57; c = get(++i)) wanted = wanted * 10 + c - 48
  if (get(i) !== COMMA) return
  let sent = 0
  for (let c = get(++i); c >= 48 && c <= 57; c = get(++i)) sent = sent * 10 + c - 48
  if (get(i) !== COMMA) return
  counter.events++
  round.onEvent(sent, wanted, now)
}

// ---------------------------------------------------------------- frames client

// A client → server frame (FIN, text, masked with a zero key: the bytes are unchanged).
function maskedText (text) {
  const body = Buffer.from(text)
  if (body.length > 125) throw new Error('control text too long')
  return Buffer.concat([Buffer.from([0x81, 0x80 | body.length, 0, 0, 0, 0]), body])
}
const SIO_CONNECT = maskedText('40')
const SIO_PONG = maskedText('3')
const WS_CLOSE = Buffer.from([0x88, 0x80, 0, 0, 0, 0])

const HEAD = 0
const FRAMES = 1

class FrameConnection {
  constructor (socket, protocol) {
    this.socket = socket
    this.socketIo = protocol === 'socket.io'
    this.state = HEAD
    this.head = ''
    // Bytes of a frame that spans reads (a copy: the read buffer is shared).
    this.tail = null
    this.events = 0
    // Called once: with no argument when the client is connected, with an Error otherwise.
    this.onOpen = null
  }

  opened (error) {
    const onOpen = this.onOpen
    this.onOpen = null
    onOpen?.(error)
  }

  /** Feeds `buf[start, end)` of the socket's bytes. */
  feed (buf, start, end, now) {
    if (this.state === HEAD) {
      const response = readResponseHead(this, buf, start, end)
      if (response === null) return
      const { head, status, bodyStart } = response
      if (status !== 101) throw new Error(`status ${status}: ${head.split('\r\n')[0]}`)
      if (/\r\nsec-websocket-extensions:/i.test(head)) throw new Error('the server negotiated an extension')
      this.state = FRAMES
      // A plain WebSocket client is connected at the 101; a socket.io one at the CONNECT answer.
      if (!this.socketIo) this.opened()
      start = bodyStart
      if (start === end) return
    }
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, buf.subarray(start, end)])
      this.tail = null
      start = 0
      end = buf.length
    }
    let i = start
    while (end - i >= 2) {
      const b0 = buf[i]
      const b1 = buf[i + 1]
      let length = b1 & 0x7f
      let at = i + 2
      if (length === 126) {
        if (end - i < 4) break
        length = buf.readUInt16BE(i + 2)
        at = i + 4
      } else if (length === 127) {
        if (end - i < 10) break
        length = Number(buf.readBigUInt64BE(i + 2))
        at = i + 10
      }
      if (length > MAX_FRAME) throw new Error(`frame of ${length} B`)
      if (b1 & 0x80) throw new Error('masked frame from the server')
      if (at + length > end) break
      if ((b0 & 0x80) === 0) throw new Error('fragmented message (not expected here)')
      this.frame(b0 & 0x0f, buf, at, at + length, now)
      i = at + length
    }
    if (i < end) this.tail = Buffer.from(buf.subarray(i, end))
  }

  /** One complete frame: opcode and payload `buf[start, end)`. */
  frame (opcode, buf, start, end, now) {
    if (opcode === 1 || opcode === 2) {
      if (this.socketIo) {
        // Engine.IO packet type, then (for a message) the socket.io packet type.
        const type = buf[start]
        if (type === 0x34 /* 4: message */) {
          const kind = buf[start + 1]
          if (kind === 0x32 /* 2: EVENT */) {
            const at = buf.indexOf(AT, start)
            if (at !== -1 && at < end) onPayload(this, buf, false, at, end, now)
          } else if (kind === 0x30 /* 0: CONNECT answered */) {
            this.opened()
          } else if (kind === 0x34 /* 4: CONNECT_ERROR */) {
            throw new Error(`socket.io connect error: ${buf.toString('utf8', start, end)}`)
          }
        } else if (type === 0x30 /* 0: open */) {
          this.socket.write(SIO_CONNECT)
        } else if (type === 0x32 /* 2: ping */) {
          this.socket.write(SIO_PONG)
        }
        return
      }
      const at = buf.indexOf(AT, start)
      if (at !== -1 && at < end) onPayload(this, buf, false, at, end, now)
    } else if (opcode === 9) {
      // Ping: the pong echoes its payload (masked with a zero key), control frames are ≤ 125 B.
      this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | (end - start), 0, 0, 0, 0]), buf.subarray(start, end)]))
    } else if (opcode === 8) {
      this.socket.end(WS_CLOSE)
    }
  }

  close () {
    this.socket.destroy()
  }
}

function openFrames (port, path, protocol, source) {
  return openSocket({
    port,
    source,
    request: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    create: (socket) => new FrameConnection(socket, protocol)
  })
}

// ---------------------------------------------------------------- socket.io-client

let ioFactory = null

async function openSocketIo (port, source) {
  ioFactory ??= (await import('socket.io-client')).io
  return new Promise((resolve) => {
    const counter = {
      events: 0,
      close: () => socket.disconnect()
    }
    const finish = attempt(resolve, { abort: () => socket.disconnect(), connection: () => counter })
    const socket = ioFactory(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
      localAddress: source
    })
    socket.on('m', (text) => {
      if (typeof text !== 'string') return
      const at = text.indexOf('@')
      if (at !== -1) onPayload(counter, text, true, at, text.length, nowUs())
    })
    socket.once('connect', () => finish())
    socket.once('connect_error', (error) => finish(error))
  })
}

// ---------------------------------------------------------------- the process

const generator = new LoadGenerator(({ port, path, protocol, client }, source) => client === 'socket.io-client' ? openSocketIo(port, source) : openFrames(port, path, protocol, source))

runClient(generator, import.meta.url)
