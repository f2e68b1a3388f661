/**
 * A real redis-server for the tests (Debian's, installed by `.ci/run`): started
 * on a free port of 127.0.0.1, without persistence unless asked (an
 * append-only file in a temporary directory), killed at teardown. It can be
 * killed (SIGKILL) and started again on the same port mid-test.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'

/** Why the Redis tests skip here, or false when redis-server is there. */
export async function redisSkip (): Promise<string | false> {
  const { access } = await import('node:fs/promises')
  try {
    await access(REDIS_SERVER)
    return false
  } catch {
    return `no redis-server at ${REDIS_SERVER} (.ci/run installs Debian's)`
  }
}

export interface RedisServer {
  port: number
  url: string
  /** Kills it at once, the way a crash would (SIGKILL); resolves once it has exited. */
  kill: () => Promise<void>
  /** Starts it again on the same port: empty without persistence, else with what its append-only file holds. */
  restart: () => Promise<void>
  /** Sends one command and resolves with its raw RESP answer. */
  command: (...args: string[]) => Promise<string>
}

/** A free TCP port of 127.0.0.1 (listen on port 0, read it, close). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Sends `args` as a RESP command on a new connection and resolves with the full answer once it is complete. */
export function command (port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('error', reject)
    socket.on('data', (chunk: string) => {
      answer += chunk
      if (complete(answer)) {
        socket.destroy()
        resolve(answer)
      }
    })
    socket.write(`*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join(''))
  })
}

// Enough RESP for the answers the tests ask for: simple strings, errors, integers, bulk strings.
function complete (answer: string): boolean {
  const end = answer.indexOf('\r\n')
  if (end === -1) return false
  if (answer[0] !== '$') return true
  const length = Number(answer.slice(1, end))
  return length < 0 || answer.length >= end + 2 + length + 2
}

/** Waits until redis-server on `port` answers PING; every attempt and the whole wait are bounded. */
async function ready (port: number, child: ChildProcess, limitMs = 10_000): Promise<void> {
  const start = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`)
    try {
      if ((await command(port, 'PING')).startsWith('+PONG')) return
    } catch {}
    if (Date.now() - start > limitMs) throw new Error(`redis-server on port ${port} did not answer PING within ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface RedisServerOptions {
  /** Every write goes to an append-only file (`appendonly yes`), which a restart reads back. Default false. */
  persistence?: boolean
}

/** Starts redis-server on a free loopback port; it is killed (and its files removed) at the test's teardown. */
export async function startRedis (t: Test, options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', options.persistence === true ? 'yes' : 'no']
  const dir = options.persistence === true ? await mkdtemp(join(tmpdir(), 'fastify-datastar-redis-')) : undefined
  if (dir !== undefined) args.push('--dir', dir)
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const started = spawn(REDIS_SERVER, args, { stdio: 'ignore' })
    child = started
    await ready(port, started)
  }
  const kill = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = once(running, 'exit')
    running.kill('SIGKILL')
    await exited
  }
  t.teardown(async () => {
    await kill()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    command: (...args) => command(port, ...args)
  }
}

/** Orders Redis stream ids (`<ms>-<seq>`), independently of the code under test. */
export function compareIds (a: string, b: string): number {
  const [aTime, aSeq] = a.split('-').map(BigInt) as [bigint, bigint]
  const [bTime, bSeq] = b.split('-').map(BigInt) as [bigint, bigint]
  return aTime !== bTime ? (aTime < bTime ? -1 : 1) : aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1
}

/** How many connections of this package (`CLIENT SETNAME fastify-datastar`) Redis has. */
export async function connections (redis: { command: (...args: string[]) => Promise<string> }): Promise<number> {
  const list = await redis.command('CLIENT', 'LIST')
  return list.split('\n').filter((line) => line.includes(' name=fastify-datastar ')).length
}

/** Resolves once Redis lists no connection of this package, within `limitMs`. */
export async function noConnectionsLeft (redis: { command: (...args: string[]) => Promise<string> }, limitMs = 5000): Promise<void> {
  const start = Date.now()
  while (await connections(redis) > 0) {
    if (Date.now() - start > limitMs) throw new Error(`connections still open after ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** How many timers keep the process alive. */
export function timers (): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
}

/** How many TCP sockets keep the process alive. */
export function sockets (): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length
}
