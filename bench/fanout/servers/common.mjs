// What every server of bench/fanout shares: the event each publish sends, the
// burst of publishes, and the IPC protocol with run.mjs. A server module only
// says how it accepts an SSE GET on /sse and how it broadcasts one event.
//
// Messages from the orchestrator:
//   { cmd: 'count' }                     → { type: 'count', count }   (registered subscribers)
//   { cmd: 'publish', round, events }    → { type: 'published', ms }  (the burst, one event per macrotask)
//   { cmd: 'cpu' }                       → { type: 'cpu', user, system }
//   { cmd: 'mem' }                       → { type: 'mem', rss, heapUsed, external, arrayBuffers } after GC
//   { cmd: 'profile-start' }             → { type: 'profiling' }       (V8 CPU profiler, via node:inspector)
//   { cmd: 'profile-stop', path }        → { type: 'profile', path }   (.cpuprofile written to path)
//   { cmd: 'snapshot', path }            → { type: 'snapshot', path }  (heap snapshot after GC)
//   { cmd: 'close' }                     → { type: 'closed' }, then exits
import http from 'node:http'
import { Session } from 'node:inspector'
import process from 'node:process'
import v8 from 'node:v8'

/** The Datastar event type every server sends. */
export const EVENT = 'datastar-patch-signals'

/** Size of one event on the wire, as the raw server encodes it (the others are within a few bytes). */
export const EVENT_BYTES = Number(process.env.FANOUT_EVENT_BYTES ?? 200)

const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/**
 * The signals JSON of one event: round, sequence number, the time the burst
 * began `q` and the event's send time `t` (µs of the monotonic clock every
 * process shares), and padding up to EVENT_BYTES.
 */
export function signalsJson (round, seq, q, t) {
  const bare = `{"r":${round},"s":${seq},"q":${q},"t":${t},"pad":""}`
  // The raw event: "id: <seq>\nevent: <EVENT>\ndata: signals <json>\n\n".
  const framing = `id: ${seq}\nevent: ${EVENT}\ndata: signals \n\n`.length
  const pad = Math.max(0, EVENT_BYTES - framing - bare.length)
  return `{"r":${round},"s":${seq},"q":${q},"t":${t},"pad":"${'x'.repeat(pad)}"}`
}

/**
 * Runs a bench server: `start()` listens on 127.0.0.1 and resolves with
 * `{ port, count(), broadcast(json, seq), close() }`.
 */
export async function serve (start) {
  const server = await start()
  let seq = 0

  async function publish (round, events) {
    const started = performance.now()
    // All the burst's events are wanted now: latency from here includes waiting behind earlier events.
    const burstStart = nowUs()
    for (let i = 0; i < events; i++) {
      // Each publish in its own macrotask, as if each came from its own request.
      await new Promise((resolve) => setImmediate(resolve))
      const id = ++seq
      // The send time: taken when the publish call begins.
      server.broadcast(signalsJson(round, id, burstStart, nowUs()), id)
    }
    return performance.now() - started
  }

  async function collect () {
    for (let i = 0; i < 4; i++) {
      globalThis.gc?.()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return process.memoryUsage()
  }

  let inspector = null
  const post = (method, params) => new Promise((resolve, reject) => {
    inspector.post(method, params, (error, result) => error ? reject(error) : resolve(result))
  })

  process.on('message', async (message) => {
    switch (message.cmd) {
      case 'profile-start':
        inspector = new Session()
        inspector.connect()
        await post('Profiler.enable')
        await post('Profiler.setSamplingInterval', { interval: 100 })
        await post('Profiler.start')
        process.send({ type: 'profiling' })
        break
      case 'profile-stop': {
        const { profile } = await post('Profiler.stop')
        inspector.disconnect()
        inspector = null
        const { writeFile } = await import('node:fs/promises')
        await writeFile(message.path, JSON.stringify(profile))
        process.send({ type: 'profile', path: message.path })
        break
      }
      case 'snapshot':
        await collect()
        process.send({ type: 'snapshot', path: v8.writeHeapSnapshot(message.path) })
        break
      case 'count':
        process.send({ type: 'count', count: server.count() })
        break
      case 'publish':
        process.send({ type: 'published', ms: await publish(message.round, message.events) })
        break
      case 'cpu':
        process.send({ type: 'cpu', ...process.cpuUsage() })
        break
      case 'mem':
        process.send({ type: 'mem', ...(await collect()) })
        break
      case 'close':
        await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 5000))])
        process.send({ type: 'closed' }, () => process.exit(0))
        break
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'ready', port: server.port, pid: process.pid, gc: typeof globalThis.gc === 'function' })
}

/** Closes a node:http server, dropping the connections still open. */
export function closeHttp (server) {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/** Writes and flushes the head of an event stream, the first step of the node:http servers. */
export function writeStreamHead (res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive'
  })
  res.flushHeaders()
}

/** A node:http server on loopback that hands GET /sse to `onStream(req, res)` and answers 404 elsewhere. */
export async function listenForStreams (onStream) {
  const server = http.createServer((req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end()
      return
    }
    onStream(req, res)
  })
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return server
}
