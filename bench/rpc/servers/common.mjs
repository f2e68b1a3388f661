// What every server of bench/rpc shares: the loops run.mjs asks for (IPC
// commands on top of bench/common/server.mjs's count, cpu, mem, close). A
// server module only says how it makes one round trip to its one page,
// `echo(text)` → the text back, and how it calls every page at once,
// `callAll(timeoutMs)` → `{ results, ok }`.
//
//   { cmd: 'round-trips', inFlight, ms, maxCount } → { type: 'round-trips', count, ms, perSec, p50Us, p99Us, maxUs, cpuUsPerCall }
//       echo() calls, `inFlight` at a time, until `maxCount` or `ms` have passed (each latency from the call to its result)
//   { cmd: 'call-all', calls, timeoutMs } → { type: 'call-all', times, results, ok, cpuUsPerResult }
//       `calls` callAll()s one after the other (a macrotask between them), each timed until its last result
import process from 'node:process'
import { closeHttp, listenHttp, serve as serveBench, until } from '../../common/server.mjs'

export { closeHttp, listenHttp, until }

/** Size of a round trip's payload: a string of this many characters. */
export const PAYLOAD_BYTES = Number(process.env.RPC_PAYLOAD_BYTES ?? 100)
const PAYLOAD = 'x'.repeat(PAYLOAD_BYTES)

const cpuUs = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

/** `promise`, or a rejection after `ms` (a lost reply must not hang the bench). */
function bounded (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function roundTrips (server, { inFlight, ms, maxCount }) {
  if (!(inFlight >= 1 && inFlight <= 1024 && maxCount >= 1 && maxCount <= 10_000_000 && ms > 0 && ms <= 120_000)) throw new Error('round-trips: bad arguments')
  const latencies = new Float64Array(maxCount)
  const started = performance.now()
  const deadline = started + ms
  const cpu = cpuUs()
  let next = 0
  const worker = async () => {
    while (next < maxCount && performance.now() < deadline) {
      const index = next++
      const sent = performance.now()
      const value = await server.echo(PAYLOAD)
      latencies[index] = (performance.now() - sent) * 1000
      if (value !== PAYLOAD) throw new Error(`the echo came back as ${String(value).slice(0, 40)}`)
    }
  }
  await bounded(Promise.all(Array.from({ length: inFlight }, worker)), ms + 15_000, 'round trips')
  const elapsed = performance.now() - started
  const cpuUsed = cpuUs() - cpu
  const sample = latencies.subarray(0, next).sort()
  const pick = (q) => sample[Math.min(sample.length - 1, Math.floor(q * sample.length))]
  return { type: 'round-trips', count: next, ms: elapsed, perSec: next / (elapsed / 1000), p50Us: pick(0.5), p99Us: pick(0.99), maxUs: sample[sample.length - 1], cpuUsPerCall: cpuUsed / next }
}

async function callAlls (server, { calls, timeoutMs }) {
  if (!(calls >= 1 && calls <= 1000 && timeoutMs > 0 && timeoutMs <= 60_000)) throw new Error('call-all: bad arguments')
  const times = []
  let results = 0
  let ok = 0
  const cpu = cpuUs()
  for (let i = 0; i < calls; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    const started = performance.now()
    const done = await bounded(server.callAll(timeoutMs), timeoutMs + 5000, 'callAll')
    times.push(performance.now() - started)
    results += done.results
    ok += done.ok
  }
  return { type: 'call-all', times, results, ok, cpuUsPerResult: (cpuUs() - cpu) / results }
}

/**
 * Runs a bench server: `start()` listens on 127.0.0.1 and resolves with
 * `{ port, count(), echo(text), callAll(timeoutMs), close() }`.
 */
export const serve = (start) => serveBench(start, () => { throw new Error('bench/rpc servers do not publish') }, {
  'round-trips': (command, server) => roundTrips(server, command),
  'call-all': (command, server) => callAlls(server, command)
})
