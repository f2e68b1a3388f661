/**
 * A TCP proxy of the tests' own between a client (ioredis) and a server
 * (redis-server) on 127.0.0.1: it forwards both ways, and can cut every
 * connection (at once, or right after a command reached the server but before
 * its answer reaches the client, the fault that makes a client resend what the
 * server already applied), and refuse new ones until healed.
 */
import net from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface TcpProxy {
  port: number
  /**
   * Resolves once a command containing `marker` went through to the server
   * and the connection was then cut, its answer dropped (`holdMs` after it,
   * so the server has applied it).
   */
  cutAfter: (marker: string, holdMs?: number) => Promise<void>
  /** Cuts every connection now. */
  cut: () => void
  /** Cuts every connection and closes each new one at once, until `heal()` (the network is down). */
  down: () => void
  heal: () => void
  /** New connections go to `port` from now on (a load balancer that sends the next connection to another node). */
  retarget: (port: number) => void
  /** How many connections the proxy has accepted. */
  readonly connections: number
}

/** Starts a proxy to `targetPort`, closed (with every connection) at teardown. */
export async function startProxy (t: Test, targetPort: number): Promise<TcpProxy> {
  let armed: { marker: string, holdMs: number, cut: () => void } | undefined
  const sockets = new Set<net.Socket>()
  let connections = 0
  let refusing = false
  let target = targetPort
  const cut = (): void => { for (const socket of sockets) socket.destroy() }
  const server = net.createServer((client) => {
    connections++
    if (refusing) {
      client.destroy()
      return
    }
    const upstream = net.connect(target, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => { sockets.delete(socket) })
    }
    client.on('close', () => { upstream.destroy() })
    upstream.on('close', () => { client.destroy() })
    upstream.on('data', (chunk: Buffer) => { client.write(chunk) })
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      const trip = armed
      if (trip === undefined || !chunk.includes(trip.marker)) return
      armed = undefined
      // The answer is not read any more, then both sides go: the client never gets it.
      upstream.pause()
      setTimeout(() => {
        client.destroy()
        upstream.destroy()
        trip.cut()
      }, trip.holdMs)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    cut()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    cutAfter: (marker, holdMs = 100) => new Promise((resolve) => { armed = { marker, holdMs, cut: resolve } }),
    cut,
    down: () => {
      refusing = true
      cut()
    },
    heal: () => { refusing = false },
    retarget: (port) => { target = port },
    get connections () { return connections }
  }
}
