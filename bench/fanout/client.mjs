// The load generator of bench/fanout, a child process of run.mjs (IPC).
//
// It opens N plain TCP connections to 127.0.0.1, sends one SSE GET on each,
// decodes the chunked response just enough to find complete events (a blank
// line ends one) and reads the times the server put in each event: its send
// time `"t":` and the start of its burst `"q":` (µs of CLOCK_MONOTONIC, the
// clock process.hrtime reads in every process of this machine). Every read lands in one shared buffer (`onread`),
// so the client allocates nothing per read and stays cheaper than the servers.
//
// Messages from the orchestrator:
//   { cmd: 'connect', port, n, path, sources }  → { type: 'connected', open, failed, ms }
//   { cmd: 'arm', round, events, timeoutMs }     → { type: 'round', ... } once every
//                                                   connection has all events, or at the timeout
//   { cmd: 'close' }                             → { type: 'closed' }, then exits
import net from 'node:net'
import process from 'node:process'

const NL = 0x0a
const CR = 0x0d
const BLANK_LINE = Buffer.from('\n\n')
const R_FIELD = Buffer.from('{"r":')
const S_CODE = 's'.charCodeAt(0)
const Q_CODE = 'q'.charCodeAt(0)
const T_CODE = 't'.charCodeAt(0)

// Connecting: at most this many handshakes in flight, each bounded in time.
const CONNECT_CONCURRENCY = 256
const CONNECT_TIMEOUT_MS = 10_000

const nowUs = () => Number(process.hrtime.bigint() / 1000n)

const connections = []
let round = null

function send (message) {
  process.send(message)
}

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
    this.onHead = null
  }

  /** Feeds `buf[start, end)` of the socket's bytes. */
  feed (buf, start, end, now) {
    let i = start
    while (i < end) {
      switch (this.state) {
        case HEAD: {
          const text = this.head + buf.toString('latin1', i, end)
          const stop = text.indexOf('\r\n\r\n')
          if (stop === -1) {
            if (text.length > 16_384) throw new Error('response head too large')
            this.head = text
            return
          }
          const head = text.slice(0, stop)
          this.head = ''
          this.status = Number(head.slice(9, 12))
          if (!/\r\ntransfer-encoding: *chunked/i.test(head)) throw new Error(`expected a chunked response, got:\n${head}`)
          // Where the body starts within buf (the head text may have begun in an earlier read).
          i = end - (text.length - stop - 4)
          this.state = SIZE
          const onHead = this.onHead
          this.onHead = null
          onHead?.(this.status)
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

// Every socket reads into this one buffer; each read is parsed before the next.
const readBuffer = Buffer.allocUnsafe(256 * 1024)

function open (port, path, source) {
  return new Promise((resolve) => {
    let connection = null
    const timer = setTimeout(() => finish(new Error('connect timeout')), CONNECT_TIMEOUT_MS)
    let settled = false
    const finish = (error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error !== undefined) {
        socket.destroy()
        resolve({ error: error.message })
      } else {
        resolve({ connection })
      }
    }
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      localAddress: source,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback (nread, buf) {
          try {
            connection.feed(buf, 0, nread, nowUs())
          } catch (error) {
            socket.destroy(error)
          }
        }
      }
    })
    connection = new Connection(socket)
    connection.onHead = (status) => finish(status === 200 ? undefined : new Error(`status ${status}`))
    socket.on('error', (error) => finish(error))
    socket.on('close', () => finish(new Error('closed before the head')))
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`)
    })
  })
}

async function connectAll ({ port, n, path, sources }) {
  const started = performance.now()
  let next = 0
  let failed = 0
  const errors = new Map()
  const worker = async () => {
    while (next < n) {
      const index = next++
      const source = sources.length > 0 ? sources[index % sources.length] : undefined
      const result = await open(port, path, source)
      if (result.connection !== undefined) {
        connections.push(result.connection)
      } else {
        failed++
        errors.set(result.error, (errors.get(result.error) ?? 0) + 1)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, worker))
  send({ type: 'connected', open: connections.length, failed, errors: Object.fromEntries(errors), ms: performance.now() - started })
}

function arm ({ round: id, events, timeoutMs }) {
  for (const connection of connections) connection.events = 0
  const expected = connections.length * events
  const latencies = new Float64Array(expected)
  const burstLatencies = new Float64Array(expected)
  let received = 0
  let firstSent = Infinity
  let lastReceived = 0
  const cpu = process.cpuUsage()
  const finish = (complete) => {
    const used = process.cpuUsage(cpu)
    clearTimeout(timer)
    round = null
    const kept = Math.min(received, expected)
    const sample = latencies.subarray(0, kept).sort()
    const burstSample = burstLatencies.subarray(0, kept).sort()
    const pick = (q, from = sample) => from.length === 0 ? NaN : from[Math.min(from.length - 1, Math.floor(q * from.length))]
    let short = 0
    for (const connection of connections) if (connection.events < events) short++
    send({
      type: 'round',
      complete,
      expected,
      received,
      short,
      // Time from the first publish (the send time in the earliest event) to the last event received.
      spanUs: lastReceived - firstSent,
      p50Us: pick(0.5),
      p99Us: pick(0.99),
      maxUs: sample.length === 0 ? NaN : sample[sample.length - 1],
      // From the start of the burst instead of the event's own send time.
      burstP50Us: pick(0.5, burstSample),
      burstP99Us: pick(0.99, burstSample),
      // The client's own CPU time for the round (to show it is not the bottleneck).
      cpuUs: used.user + used.system
    })
  }
  const timer = setTimeout(() => finish(false), timeoutMs)
  round = {
    id,
    onEvent (sent, wanted, now) {
      if (received < expected) {
        latencies[received] = now - sent
        burstLatencies[received] = now - wanted
      }
      received++
      if (sent < firstSent) firstSent = sent
      if (now > lastReceived) lastReceived = now
      if (received === expected) finish(true)
    }
  }
  send({ type: 'armed', expected })
}

function closeAll () {
  for (const connection of connections) connection.socket.destroy()
  connections.length = 0
  send({ type: 'closed' })
  // Let the IPC message go out, then leave.
  setTimeout(() => process.exit(0), 50).unref()
  process.disconnect()
}

process.on('message', (message) => {
  if (message.cmd === 'connect') connectAll(message).catch((error) => send({ type: 'error', message: error.stack }))
  else if (message.cmd === 'arm') arm(message)
  else if (message.cmd === 'close') closeAll()
})
process.on('disconnect', () => {
  for (const connection of connections) connection.socket.destroy()
  process.exit(0)
})
send({ type: 'ready', pid: process.pid })
