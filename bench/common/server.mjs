// What every bench server process shares (bench/fanout/servers/*.mjs,
// bench/websocket/servers/*.mjs): the burst of broadcasts and the IPC protocol
// with run.mjs. A bench's servers/common.mjs says what one broadcast sends; a
// server module only says how it accepts a client and how it broadcasts.
//
// Messages from the orchestrator:
//   { cmd: 'count' }                     → { type: 'count', count }   (clients the broadcast reaches)
//   { cmd: 'publish', round, events, pattern } → { type: 'published', ms, handed }  (the burst: pattern 'macrotask',
//                                        the default, one broadcast per macrotask; 'same-turn', every broadcast in one
//                                        synchronous loop, nothing awaited between them)
//   { cmd: 'cpu' }                       → { type: 'cpu', user, system }
//   { cmd: 'mesh', nodes, timeoutMs }    → { type: 'mesh', ms }  (a node of a cluster: resolves once it lists
//                                        `nodes` nodes and hears their broadcasts; the server's `mesh()`)
//   { cmd: 'mem' }                       → { type: 'mem', rss, heapUsed, external, arrayBuffers } after GC
//   { cmd: 'snapshot', path }            → { type: 'snapshot', path }  (heap snapshot after GC)
//   { cmd: 'profile-start' }             → { type: 'profiling' }       (V8 CPU profiler, via node:inspector)
//   { cmd: 'profile-stop', path }        → { type: 'profile', path }   (.cpuprofile written to path)
//   { cmd: 'close' }                     → { type: 'closed' }, then exits
//   any other cmd of serve()'s `commands` → what its handler resolves with (bench/rpc's round trips)
// A command that throws answers { type: 'error', message }.
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import { Session } from 'node:inspector'
import process from 'node:process'
import v8 from 'node:v8'

/** µs of CLOCK_MONOTONIC (process.hrtime), the clock every process of this machine shares. */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/**
 * Runs a bench server: `start()` listens on 127.0.0.1 and resolves with
 * `{ port, count(), broadcast(message, seq), close() }`; broadcast may return
 * how many clients it handed the message to. A node of a cluster (on
 * BENCH_REDIS_URL) has `mesh(nodes, timeoutMs)` too: waiting with until(). `message(round, seq, burstStart,
 * sendTime)` is what one broadcast sends (times in µs of nowUs()).
 * `commands` adds a bench's own: `{ [cmd]: (command, server) => reply }`, the
 * reply (a message with its `type`) sent when it resolves.
 */
export async function serve (start, message, commands = {}) {
  const server = await start()
  let seq = 0

  async function publish (round, events, pattern = 'macrotask') {
    if (pattern !== 'macrotask' && pattern !== 'same-turn') throw new Error(`unknown publish pattern ${pattern}`)
    const started = performance.now()
    let handed = 0
    // All the burst's messages are wanted now: latency from here includes waiting behind earlier ones.
    const burstStart = nowUs()
    for (let i = 0; i < events; i++) {
      // macrotask: each broadcast in its own macrotask, as if each came from its own request.
      // same-turn: the whole burst in one turn of the event loop, as a handler that publishes several events at once.
      if (pattern === 'macrotask') await new Promise((resolve) => setImmediate(resolve))
      const id = ++seq
      // The send time: taken when the broadcast call begins.
      const result = server.broadcast(message(round, id, burstStart, nowUs()), id)
      if (typeof result === 'number') handed += result
    }
    return { ms: performance.now() - started, handed }
  }

  let inspector = null
  const post = (method, params) => new Promise((resolve, reject) => {
    inspector.post(method, params, (error, result) => error ? reject(error) : resolve(result))
  })

  process.on('message', async (command) => {
    try {
      switch (command.cmd) {
        case 'count':
          process.send({ type: 'count', count: server.count() })
          break
        case 'publish':
          process.send({ type: 'published', ...(await publish(command.round, command.events, command.pattern)) })
          break
        case 'cpu':
          process.send({ type: 'cpu', ...process.cpuUsage() })
          break
        case 'mesh': {
          if (typeof server.mesh !== 'function') throw new Error('this server is not a node of a cluster (no BENCH_REDIS_URL?)')
          const started = performance.now()
          await server.mesh(command.nodes, command.timeoutMs)
          process.send({ type: 'mesh', ms: performance.now() - started })
          break
        }
        case 'mem':
          process.send({ type: 'mem', ...(await collect()) })
          break
        case 'snapshot':
          await collect()
          process.send({ type: 'snapshot', path: v8.writeHeapSnapshot(command.path) })
          break
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
          await writeFile(command.path, JSON.stringify(profile))
          process.send({ type: 'profile', path: command.path })
          break
        }
        case 'close':
          await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 5000))])
          process.send({ type: 'closed' }, () => process.exit(0))
          break
        default:
          if (Object.hasOwn(commands, command.cmd)) process.send(await commands[command.cmd](command, server))
      }
    } catch (error) {
      process.send({ type: 'error', message: error.stack })
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'ready', port: server.port, pid: process.pid, gc: typeof globalThis.gc === 'function' })
}

/** process.memoryUsage() after four rounds of GC (the process runs with --expose-gc). */
async function collect () {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return process.memoryUsage()
}

/** A node:http server listening on loopback (a free port), with a deep accept backlog. */
export async function listenHttp (server = http.createServer((req, res) => res.writeHead(404).end())) {
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return server
}

/** Closes a node:http server, dropping the connections still open (upgraded sockets are the caller's). */
export function closeHttp (server) {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * Polls `check()` (every 20 ms) until it is true, or throws after `timeoutMs`
 * naming `what`: a server's `mesh()` waits so for its cluster to list every node.
 */
export async function until (check, timeoutMs, what) {
  const deadline = performance.now() + Math.min(Math.max(Number(timeoutMs) || 0, 100), 60_000)
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
