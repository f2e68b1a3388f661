// The load generator of bench/fanout, a child process of run.mjs (IPC).
//
// It opens N plain TCP connections to 127.0.0.1, sends one SSE GET on each,
// decodes the chunked response just enough to find complete events (a blank
// line ends one) and reads the times the server put in each event: its send
// time `"t":` and the start of its burst `"q":` (µs of CLOCK_MONOTONIC, the
// clock process.hrtime reads in every process of this machine). Every read lands in one shared buffer (`onread`),
// so the client allocates nothing per read and stays cheaper than the servers.
// Connecting, counting a round and the IPC protocol with run.mjs
// ({ cmd: 'connect', port, n, path, sources }, 'arm', 'close') are
// bench/common/client.mjs's.
import { LoadGenerator, openSocket, readResponseHead, runClient } from '../common/client.mjs'

const NL = 0x0a
const CR = 0x0d
const BLANK_LINE = Buffer.from('\n\n')
const R_FIELD = Buffer.from('{"r":')
const S_CODE = 's'.charCodeAt(0)
const Q_CODE = 'q'.charCodeAt(0)
const T_CODE = 't'.charCodeAt(0)

// Head → chunk size line → chunk data → CRLF after the data → chunk size line ...
const HEAD = 0
const SIZE = 1
const DATA = 2
const DATA_END = 3
const DONE = 4

class Connection {
  constructor (socket) {
    this.socket = socket
    this.state = HEAD
    this.head = ''
    this.sizeLine = ''
    this.remaining = 0
    this.crlfLeft = 0
    // Bytes of the current, still unterminated event (only when an event spans reads).
    this.tail = null
    // Whether the last payload byte seen was a newline (a terminator may span two slices).
    this.lastNl = false
    this.events = 0
    this.status = 0
    // Called once, at the response head: with no argument for a 200, with an Error otherwise.
    this.onOpen = null
  }

  close () {
    this.socket.destroy()
  }

  /** Feeds `buf[start, end)` of the socket's bytes. */
  feed (buf, start, end, now) {
    let i = start
    while (i < end) {
      switch (this.state) {
        case HEAD: {
          const response = readResponseHead(this, buf, i, end)
          if (response === null) return
          this.status = response.status
          if (!/\r\ntransfer-encoding: *chunked/i.test(response.head)) throw new Error(`expected a chunked response, got:\n${response.head}`)
          i = response.bodyStart
          this.state = SIZE
          const onOpen = this.onOpen
          this.onOpen = null
          onOpen?.(this.status === 200 ? undefined : new Error(`status ${this.status}`))
          break
        }
        case SIZE: {
          const nl = buf.indexOf(NL, i)
          if (nl === -1 || nl >= end) {
            this.sizeLine += buf.toString('latin1', i, end)
            return
          }
          const line = this.sizeLine + buf.toString('latin1', i, nl)
          this.sizeLine = ''
          i = nl + 1
          const size = parseInt(line, 16)
          if (!(size >= 0)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`)
          if (size === 0) {
            this.state = DONE
            return
          }
          this.remaining = size
          this.state = DATA
          break
        }
        case DATA: {
          const take = Math.min(this.remaining, end - i)
          this.payload(buf, i, i + take, now)
          this.remaining -= take
          i += take
          if (this.remaining === 0) {
            this.state = DATA_END
            this.crlfLeft = 2
          }
          break
        }
        case DATA_END: {
          const byte = buf[i]
          if (byte !== CR && byte !== NL) throw new Error('bad chunk end')
          i++
          if (--this.crlfLeft === 0 || byte === NL) this.state = SIZE
          break
        }
        default:
          return
      }
    }
  }

  /** Payload bytes `buf[start, end)`: finds the events they complete. */
  payload (buf, start, end, now) {
    if (start === end) return
    if (this.tail !== null || (this.lastNl && buf[start] === NL)) {
      // An event began in an earlier read: join it to this one (rare: only when events span reads).
      const joined = Buffer.concat([this.tail ?? Buffer.from('\n'), buf.subarray(start, end)])
      this.tail = null
      this.lastNl = false
      this.payload(joined, 0, joined.length, now)
      return
    }
    let from = start
    for (;;) {
      const stop = buf.indexOf(BLANK_LINE, from)
      if (stop === -1 || stop + 2 > end) break
      this.event(buf, from, stop, now)
      from = stop + 2
    }
    if (from < end) {
      // The shared read buffer is reused: keep a copy of the unterminated part.
      this.tail = Buffer.from(buf.subarray(from, end))
      this.lastNl = buf[end - 1] === NL
    } else {
      this.lastNl = false
    }
  }

  /**
   * One complete event in `buf[start, end)`; only the bench's own events count:
   * their signals begin `{"r":<round>,"s":<seq>,"q":<burst start>,"t":<send time>`
   * (servers/common.mjs), read here in one pass after a single search.
   */
  event (buf, start, end, now) {
    const round = generator.round
    if (round === null) return
    const r = buf.indexOf(R_FIELD, start)
    if (r === -1 || r >= end) return
    let i = r + R_FIELD.length
    let id = 0
    for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) id = id * 10 + c - 48
    if (id !== round.id || buf[i + 2] !== S_CODE) return
    i += 5
    for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]);
    if (buf[i + 2] !== Q_CODE) return
    i += 5
    let wanted = 0
    for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) wanted = wanted * 10 + c - 48
    if (buf[i + 2] !== T_CODE) return
    i += 5
    let sent = 0
    for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) sent = sent * 10 + c - 48
    this.events++
    round.onEvent(sent, wanted, now)
  }
}

const generator = new LoadGenerator(({ port, path }, source) => openSocket({
  port,
  source,
  request: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`,
  create: (socket) => new Connection(socket)
}))

runClient(generator, import.meta.url)
