// A real redis-server for the benches' rows across nodes (bench/rpc's calls to
// all on two nodes, bench/websocket's broadcast on two nodes), started by the
// bench itself: a free port of 127.0.0.1, no persistence, no config file,
// pinned with the servers when they are, stopped (by its pid) after each
// measurement. As test/registry/redis-server.ts does for the tests.
// REDIS_SERVER names another binary than Debian's /usr/bin/redis-server.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import net from 'node:net'
import process from 'node:process'
import { processCpuUs } from './proc.mjs'

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'

const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5000

/** Why a row across nodes cannot run here (no redis-server to start), or null. */
export function redisUnavailable () {
  try {
    accessSync(REDIS_SERVER, constants.X_OK)
    return null
  } catch {
    return `no redis-server at ${REDIS_SERVER} (install Debian's redis-server, or set REDIS_SERVER)`
  }
}

/** A free TCP port of 127.0.0.1 (listen on port 0, read it, close). */
async function freePort () {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

/** One PING on a new connection, bounded: whether it answered +PONG. */
function ping (port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const done = (ok) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), 1000)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('error', () => done(false))
    socket.on('data', (chunk) => {
      answer += chunk
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
    socket.write('*1\r\n$4\r\nPING\r\n')
  })
}

/**
 * Starts redis-server on a free loopback port (through `taskset -c <cpu>` when
 * `cpu` is given) and resolves once it answers PING:
 * `{ port, url, pid, cpuUs(), stop() }`; `stop()` kills it by its pid (SIGKILL
 * after STOP_TIMEOUT_MS if SIGTERM did not end it).
 */
export async function startRedis ({ cpu } = {}) {
  const why = redisUnavailable()
  if (why !== null) throw new Error(why)
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning']
  // taskset execs redis-server: the same pid.
  const child = cpu === undefined
    ? spawn(REDIS_SERVER, args, { stdio: 'ignore' })
    : spawn('taskset', ['-c', String(cpu), REDIS_SERVER, ...args], { stdio: 'ignore' })
  let failed = null
  child.on('error', (error) => { failed = error })
  const exited = once(child, 'exit')
  const stop = async () => {
    if (failed !== null) return
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
  const started = Date.now()
  for (;;) {
    if (failed !== null) throw new Error(`redis-server did not start: ${failed.message}`)
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before answering on port ${port}`)
    if (await ping(port)) break
    if (Date.now() - started > START_TIMEOUT_MS) {
      await stop()
      throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { port, url: `redis://127.0.0.1:${port}`, pid: child.pid, cpuUs: () => processCpuUs(child.pid), stop }
}
