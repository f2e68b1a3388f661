// What the load generators of bench/fanout and bench/websocket share (each
// bench's client.mjs, a child process of its run.mjs, spoken to over IPC):
// opening N connections a few hundred at a time, counting the messages of a
// round with their latencies, the percentiles run.mjs gets, and the process
// itself, optionally split over worker threads. A bench's client only says how
// one connection is opened and how its bytes are decoded; its decoder calls
// `generator.round?.onEvent(sent, wanted, now)` for each message of the armed
// round (`generator.round.id`), with the times the server put in it (µs of
// CLOCK_MONOTONIC, which process.hrtime reads in every process of this machine).
//
// Messages from the orchestrator:
//   { cmd: 'connect', port, n, sources, ... }  → { type: 'connected', open, failed, errors, ms }
//   { cmd: 'arm', round, events, timeoutMs }   → { type: 'armed' }, then { type: 'round', ... } once every
//                                                connection has all messages, or at the timeout
//   { cmd: 'close' }                           → { type: 'closed' }, then exits
import net from 'node:net'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { Worker, isMainThread, parentPort } from 'node:worker_threads'

// Connecting: at most this many handshakes in flight, each bounded in time.
const CONNECT_CONCURRENCY = Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 256)
export const CONNECT_TIMEOUT_MS = 10_000

export const nowUs = () => Number(process.hrtime.bigint() / 1000n)

// A response head longer than this is an error, not a head still arriving.
const MAX_HEAD = 16_384

/**
 * Reads an HTTP response head that may arrive over several socket reads; the
 * part read so far waits in `pending.head` (a string, '' to begin with).
 * Returns null until the blank line has come, then the head (without the
 * blank line), its status and where the body starts in `buf`.
 */
export function readResponseHead (pending, buf, start, end) {
  const text = pending.head + buf.toString('latin1', start, end)
  const stop = text.indexOf('\r\n\r\n')
  if (stop === -1) {
    if (text.length > MAX_HEAD) throw new Error('response head too large')
    pending.head = text
    return null
  }
  pending.head = ''
  const head = text.slice(0, stop)
  // The head may have begun in an earlier read: count the body's start from the end of this one.
  return { head, status: Number(head.slice(9, 12)), bodyStart: end - (text.length - stop - 4) }
}

/**
 * Settles one connection attempt once: `finish()` resolves `{ connection: connection() }`,
 * `finish(error)` calls `abort()` and resolves `{ error }`; a timeout is such an error.
 */
export function attempt (resolve, { abort, connection }) {
  let settled = false
  const finish = (error) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (error !== undefined) {
      abort()
      resolve({ error: error.message })
    } else {
      resolve({ connection: connection() })
    }
  }
  const timer = setTimeout(() => finish(new Error('connect timeout')), CONNECT_TIMEOUT_MS)
  return finish
}

// Every socket of a thread reads into this one buffer; each read is parsed before the next.
const readBuffer = Buffer.allocUnsafe(256 * 1024)

/**
 * One plain TCP connection to 127.0.0.1:`port` (from `source`), which writes
 * `request` once connected and feeds every read to `connection.feed(buf, 0,
 * nread, now)` of `create(socket)`. The connection says it is open by calling
 * its `onOpen()` (with an Error if it is not), set here; a decoder error
 * fails the attempt and destroys the socket.
 */
export function openSocket ({ port, source, request, create }) {
  return new Promise((resolve) => {
    let connection = null
    const finish = attempt(resolve, { abort: () => socket.destroy(), connection: () => connection })
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
            finish(error)
            socket.destroy(error)
          }
        }
      }
    })
    connection = create(socket)
    connection.onOpen = finish
    socket.on('error', (error) => finish(error))
    socket.on('close', () => finish(new Error('closed before open')))
    socket.on('connect', () => socket.write(request))
  })
}

/**
 * One thread's connections: `open(message, source)` opens one (resolving
 * `{ connection }` or `{ error }`); a connection has `events` (its count in
 * the armed round) and `close()`.
 */
export class LoadGenerator {
  constructor (open) {
    this.open = open
    this.connections = []
    /** The armed round, `{ id, onEvent(sent, wanted, now) }`, or null. */
    this.round = null
  }

  /** Opens message.n connections (at most CONNECT_CONCURRENCY handshakes at once) and says how many opened. */
  async connectAll (message) {
    const { n, sources } = message
    const started = performance.now()
    let next = 0
    let failed = 0
    const errors = new Map()
    const worker = async () => {
      while (next < n) {
        const index = next++
        const source = sources.length > 0 ? sources[index % sources.length] : undefined
        const result = await this.open(message, source)
        if (result.connection !== undefined) {
          this.connections.push(result.connection)
        } else {
          failed++
          errors.set(result.error, (errors.get(result.error) ?? 0) + 1)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, worker))
    return { open: this.connections.length, failed, errors: Object.fromEntries(errors), ms: performance.now() - started }
  }

  /**
   * Counts the messages of round `id`: `onDone(result)` once every connection
   * has `events` of them, or at the timeout, with the latencies (µs) in the
   * order they arrived.
   */
  arm ({ round: id, events, timeoutMs }, onDone) {
    const { connections } = this
    for (const connection of connections) connection.events = 0
    const expected = connections.length * events
    const latencies = new Float64Array(expected)
    const burstLatencies = new Float64Array(expected)
    let received = 0
    let firstSent = Infinity
    let lastReceived = 0
    const finish = (complete) => {
      clearTimeout(timer)
      this.round = null
      const kept = Math.min(received, expected)
      let short = 0
      for (const connection of connections) if (connection.events < events) short++
      onDone({ complete, expected, received, short, firstSent, lastReceived, latencies: latencies.subarray(0, kept), burstLatencies: burstLatencies.subarray(0, kept) })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    this.round = {
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
  }

  close () {
    for (const connection of this.connections) connection.close()
    this.connections.length = 0
  }
}

/** What run.mjs gets of a round: the counts, the span, percentiles of the latencies, the process's CPU time. */
export function summary (parts, cpu) {
  const sum = (key) => parts.reduce((total, part) => total + part[key], 0)
  const concat = (key) => {
    const out = new Float64Array(sum('kept'))
    let at = 0
    for (const part of parts) {
      out.set(part[key], at)
      at += part[key].length
    }
    return out.sort()
  }
  for (const part of parts) part.kept = part.latencies.length
  const sample = concat('latencies')
  const burstSample = concat('burstLatencies')
  const pick = (q, from = sample) => from.length === 0 ? NaN : from[Math.min(from.length - 1, Math.floor(q * from.length))]
  const firstSent = Math.min(...parts.map((part) => part.firstSent))
  const lastReceived = Math.max(...parts.map((part) => part.lastReceived))
  return {
    type: 'round',
    complete: parts.every((part) => part.complete),
    expected: sum('expected'),
    received: sum('received'),
    short: sum('short'),
    // Time from the first send (the send time in the earliest message) to the last message received.
    spanUs: lastReceived - firstSent,
    p50Us: pick(0.5),
    p99Us: pick(0.99),
    maxUs: sample.length === 0 ? NaN : sample[sample.length - 1],
    // From the start of the burst instead of the message's own send time.
    burstP50Us: pick(0.5, burstSample),
    burstP99Us: pick(0.99, burstSample),
    // The client process's own CPU time for the round, all threads (to show whether it is the bottleneck).
    cpuUs: cpu.user + cpu.system,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system
  }
}

function send (message) {
  process.send(message)
}

/**
 * Runs the load generator: in the process's main thread, its own connections
 * (BENCH_CLIENT_WORKERS unset or 1) or those of K worker threads running
 * `moduleUrl` again (each with about n / K); in a worker, its share.
 */
export function runClient (generator, moduleUrl) {
  if (isMainThread) runMain(generator, moduleUrl)
  else runWorker(generator)
}

/** A client thread: its share of the connections, spoken to by the process's main thread. */
function runWorker (generator) {
  parentPort.on('message', (message) => {
    if (message.cmd === 'connect') {
      generator.connectAll(message).then((result) => parentPort.postMessage({ type: 'connected', ...result }), (error) => parentPort.postMessage({ type: 'error', message: error.stack }))
    } else if (message.cmd === 'arm') {
      generator.arm(message, (result) => parentPort.postMessage({ type: 'round', ...result }, [result.latencies.buffer, result.burstLatencies.buffer]))
      parentPort.postMessage({ type: 'armed' })
    } else if (message.cmd === 'close') {
      generator.close()
      parentPort.postMessage({ type: 'closed' })
    }
  })
}

function runMain (generator, moduleUrl) {
  const count = Math.max(1, Math.min(16, Number(process.env.BENCH_CLIENT_WORKERS ?? 1) || 1))
  const workers = count === 1
    ? null
    : Array.from({ length: count }, () => new Worker(fileURLToPath(moduleUrl), { workerData: { client: true } }))
  // Each worker's next reply of a type (they answer in order).
  const replies = (type) => Promise.all(workers.map((worker) => new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type && message.type !== 'error') return
      worker.off('message', onMessage)
      if (message.type === 'error') reject(new Error(message.message))
      else resolve(message)
    }
    worker.on('message', onMessage)
  })))

  async function onConnect (message) {
    if (workers === null) return send({ type: 'connected', ...(await generator.connectAll(message)) })
    const started = performance.now()
    const done = replies('connected')
    workers.forEach((worker, i) => worker.postMessage({ ...message, n: Math.floor(message.n / count) + (i < message.n % count ? 1 : 0) }))
    const results = await done
    const errors = {}
    for (const result of results) for (const [error, times] of Object.entries(result.errors)) errors[error] = (errors[error] ?? 0) + times
    send({ type: 'connected', open: results.reduce((total, r) => total + r.open, 0), failed: results.reduce((total, r) => total + r.failed, 0), errors, ms: performance.now() - started, workers: count })
  }

  async function onArm (message) {
    const cpu = process.cpuUsage()
    if (workers === null) {
      generator.arm(message, (result) => send(summary([result], process.cpuUsage(cpu))))
      return send({ type: 'armed' })
    }
    const armed = replies('armed')
    const rounds = replies('round')
    for (const worker of workers) worker.postMessage(message)
    await armed
    send({ type: 'armed' })
    const parts = await rounds
    send(summary(parts, process.cpuUsage(cpu)))
  }

  const exit = () => {
    generator.close()
    setTimeout(() => process.exit(0), 50).unref()
    for (const worker of workers ?? []) worker.postMessage({ cmd: 'close' })
  }
  process.on('message', (message) => {
    const fail = (error) => send({ type: 'error', message: error.stack })
    if (message.cmd === 'connect') onConnect(message).catch(fail)
    else if (message.cmd === 'arm') onArm(message).catch(fail)
    else if (message.cmd === 'close') {
      exit()
      send({ type: 'closed' })
      // Let the IPC message go out, then leave.
      process.disconnect()
    }
  })
  process.on('disconnect', exit)
  send({ type: 'ready', pid: process.pid, workers: count })
}
