// Browser RPC (issue #12): fastify-datastar/rpc side by side with a raw `ws`
// echo and socket.io acks, in one run. Writes bench/rpc/RESULTS.md, rpc.svg
// and results.json.
//
//   npm run bench:rpc                   (builds, then runs with the defaults)
//   npm run build && node bench/rpc/run.mjs [--in-flight 1,64] [--rtt-ms 2000] [--max-calls 200000]
//       [--n 1000] [--calls 10] [--call-timeout 10000] [--rounds 5] [--idle 5000] [--idle-rounds 2]
//       [--variants raw-ws,socket.io,fastify-datastar,fastify-datastar-2-nodes] [--time-limit 10] [--pin on|off] [--out bench/rpc/RESULTS.md]
//   node bench/rpc/run.mjs --render bench/rpc/results.json   (RESULTS.md and rpc.svg again, from the data)
//   node bench/rpc/run.mjs --variants fastify-datastar,fastify-datastar-2-nodes --idle 0 --in-flight ''
//       (the two-node row alone, with the one-node row it is compared with in each round)
//
// Every server variant runs in its own process (servers/*.mjs), the pages in
// another (client.mjs); this process only orchestrates over IPC. Three phases,
// the variants taking turns within each round (a new seeded order each round),
// medians over rounds and the same-round ratios:
//  1. idle memory: --idle pages held open, server RSS and V8 heap after GC per
//     page (bench/common's idleOnce);
//  2. round trips of one session: a fresh server and one page per variant and
//     --in-flight value; a warm-up of a quarter of --rtt-ms, then echo calls
//     for --rtt-ms (at most --max-calls), timed by the server (call → result);
//  3. calls to all: a fresh server and --n pages; 3 warm-up calls, then
//     --calls calls to every page, one after the other, each timed until its
//     last result.
// The two-node row (fastify-datastar-2-nodes, issue #13) is in phase 3 only:
// per round, a fresh redis-server (bench/common/redis.mjs, a free port of
// 127.0.0.1) and two server processes on it, --n / 2 pages on each, every
// callAll() made on the first node, results/s against the one-node
// fastify-datastar of the same round (target ≥ 0.7×). Two processes because
// that is what a deployment is (each node its own event loop, its own Redis
// connections, the other node's results parsed off a socket); with pinning
// both nodes and redis-server share CPU 0, the pages keep CPU 1: the CPU one
// node gets, so the ratio is what crossing Redis costs, not what a second
// core adds. Without redis-server the row is reported as not available.
// --time-limit bounds the run: a phase's next round starts only if one as long
// as the longest so far still ends within its share of the time.
import os from 'node:os'
import process from 'node:process'
import { processCpuUs } from '../common/proc.mjs'
import { broadcastRounds, createHarness, idlePhase, log, roundMedians, setup, shuffled } from '../common/harness.mjs'
import { fmt, median } from '../common/report.mjs'
import * as report from './report.mjs'
import * as variants from './variants.mjs'

const bench = await setup(import.meta.url, { variants, report, svgName: 'rpc.svg' }, {
  // Pages of the calls to all (one run each).
  n: { type: 'string', default: '1000' },
  idle: { type: 'string', default: '5000' },
  'time-limit': { type: 'string', default: '10' },
  'in-flight': { type: 'string', default: '1,64' },
  'rtt-ms': { type: 'string', default: '2000' },
  'max-calls': { type: 'string', default: '200000' },
  calls: { type: 'string', default: '10' },
  'call-timeout': { type: 'string', default: '10000' }
})
const { args, sizes: SIZES, rounds: ROUNDS, idle: IDLE, idleRounds: IDLE_ROUNDS, selected: SELECTED, pin: PIN } = bench
const integer = (name, min, max) => {
  const value = Number(args[name])
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`)
  return value
}
const LIMIT_MINUTES = Number(args['time-limit'])
if (!(LIMIT_MINUTES > 0 && LIMIT_MINUTES <= 240)) throw new Error('--time-limit must be minutes, more than 0 and at most 240')
const IN_FLIGHT = args['in-flight'].split(',').filter(Boolean).map(Number)
if (IN_FLIGHT.some((k) => !Number.isSafeInteger(k) || k < 1 || k > 64)) throw new Error('--in-flight must be integers from 1 to 64 (the RPC plugin\'s default maxInFlight)')
const RTT_MS = integer('rtt-ms', 100, 60_000)
const MAX_CALLS = integer('max-calls', 1, 10_000_000)
const CALLS = integer('calls', 1, 1000)
const CALL_TIMEOUT = integer('call-timeout', 100, 60_000)
const WARMUP_CALLS = 3
if (SIZES.some((n) => n < 1 || n > 20_000)) throw new Error('--n must be from 1 to 20000 (pages come from 127.0.0.1)')
if (IDLE > 20_000) throw new Error('--idle must be at most 20000 (pages come from 127.0.0.1)')

const LIMIT_MS = LIMIT_MINUTES * 60_000
const STARTED = bench.started
// Shares of --time-limit: idle memory up to 30 %, round trips up to 65 %, calls to all the rest.
const IDLE_DEADLINE = STARTED + 0.3 * LIMIT_MS
const RTT_DEADLINE = STARTED + 0.65 * LIMIT_MS
const DEADLINE = STARTED + LIMIT_MS
const stopAt = (deadline, what) => (round, longest) => round > 1 && Date.now() + longest > deadline ? `time limit: no ${what} round after ${round - 1} (the longest took ${fmt(longest / 1000)} s)` : undefined

const harness = createHarness({
  dir: bench.dir,
  fds: bench.fds,
  serverCpu: PIN ? 0 : undefined,
  clientCpu: PIN ? 1 : undefined,
  startTimeoutMs: 20_000,
  connectMessage: (variant) => ({ cmd: 'connect', page: variant.page }),
  events: 0,
  warmupEvents: 0
})

/**
 * A fresh server and client, `n` pages, then `work(server, client, nodes)`; all stopped after. With
 * `variant.nodes`, fresh nodes on a fresh redis-server, the pages split over them; `server` is the first node.
 */
async function withPages (variant, n, work) {
  let nodes = null
  let client = null
  try {
    nodes = await harness.startNodes(variant)
    client = await harness.startClient()
    const connected = await harness.connectNodes(client, nodes, variant, n)
    return { ...(await work(nodes.servers[0], client, nodes)), connectMs: connected.ms, load: os.loadavg()[0] }
  } finally {
    await client?.stop()
    await nodes?.stop()
  }
}

/** One session's round trips, `inFlight` at a time: a warm-up, then the measured loop. */
function roundTripsOnce (variant, inFlight) {
  return withPages(variant, 1, async (server, client) => {
    const command = { cmd: 'round-trips', inFlight, maxCount: MAX_CALLS }
    await server.request({ ...command, ms: Math.ceil(RTT_MS / 4) }, 'round-trips', RTT_MS + 30_000)
    const clientCpu = processCpuUs(client.process.pid)
    const result = await server.request({ ...command, ms: RTT_MS }, 'round-trips', RTT_MS + 30_000)
    const clientUs = processCpuUs(client.process.pid) - clientCpu
    return {
      complete: true,
      count: result.count,
      perSec: result.perSec,
      p50Us: result.p50Us,
      p99Us: result.p99Us,
      maxUs: result.maxUs,
      serverCpuUsPerCall: result.cpuUsPerCall,
      clientCpuUsPerCall: clientUs / result.count,
      // Share of the loop the page process spent on its CPU (near 1: the page side is the bottleneck).
      clientBusy: clientUs / (result.ms * 1000),
      serverBusy: (result.cpuUsPerCall * result.count) / (result.ms * 1000)
    }
  })
}

/**
 * Calls to all n pages: warm-up calls, then CALLS of them, each timed until its last result. Across
 * nodes, every call is made on the first node; the server CPU is every node's, redis-server's apart.
 */
function callAllOnce (variant, n) {
  return withPages(variant, n, async (server, client, { servers, redis }) => {
    await server.request({ cmd: 'call-all', calls: WARMUP_CALLS, timeoutMs: CALL_TIMEOUT }, 'call-all', WARMUP_CALLS * (CALL_TIMEOUT + 5000) + 10_000)
    const others = servers.slice(1)
    const otherCpu = async () => {
      let us = 0
      for (const other of others) {
        const { user, system } = await other.request({ cmd: 'cpu' }, 'cpu')
        us += user + system
      }
      return us
    }
    const othersBefore = await otherCpu()
    const redisBefore = redis?.cpuUs()
    const clientCpu = processCpuUs(client.process.pid)
    const result = await server.request({ cmd: 'call-all', calls: CALLS, timeoutMs: CALL_TIMEOUT }, 'call-all', CALLS * (CALL_TIMEOUT + 5000) + 10_000)
    const clientUs = processCpuUs(client.process.pid) - clientCpu
    const redisUs = redis === null ? undefined : redis.cpuUs() - redisBefore
    const othersUs = await otherCpu() - othersBefore
    const totalMs = result.times.reduce((sum, ms) => sum + ms, 0)
    const medianMs = median(result.times)
    return {
      complete: result.ok === n * CALLS,
      received: result.ok,
      expected: n * CALLS,
      medianMs,
      minMs: Math.min(...result.times),
      maxMs: Math.max(...result.times),
      // Results per second of the median call (n / its time until every result).
      resultsPerSec: n / (medianMs / 1000),
      // The calling node's own measure (cpuUsage around its calls), plus the other nodes' over the same request.
      serverCpuUsPerResult: result.cpuUsPerResult + othersUs / result.results,
      ...(redis === null ? {} : { nodes: servers.length, callerCpuUsPerResult: result.cpuUsPerResult, redisCpuUsPerResult: redisUs / result.results }),
      clientCpuUsPerResult: clientUs / result.results,
      clientBusy: clientUs / (totalMs * 1000)
    }
  })
}

// ---------------------------------------------------------------- main

log(`pinning ${PIN ? 'on (server CPU 0, with both nodes and redis-server of the two-node row; client CPU 1)' : 'off'}; open files per process: ${bench.fds} (hard limit ${bench.fdsHard}); time limit ${LIMIT_MINUTES} min`)

const unavailable = {}
for (const variant of SELECTED) {
  const why = await harness.probe(variant)
  if (why !== null) {
    unavailable[variant.id] = why
    log(`${variant.id}: not available (${why})`)
  }
}
const VARIANTS = SELECTED.filter((variant) => unavailable[variant.id] === undefined)
// A row across nodes (nodes: 2) is a calls-to-all row only: one session's round trips and idle memory are per process.
const ONE_NODE = VARIANTS.filter((variant) => (variant.nodes ?? 1) === 1)

// 1. Idle memory first (its duration is about the same every run).
const idlePart = await idlePhase(harness, {
  count: IDLE,
  rounds: IDLE_ROUNDS,
  variants: ONE_NODE,
  order: shuffled,
  stop: stopAt(IDLE_DEADLINE, 'idle'),
  noun: 'page',
  keys: ['rssPerConn', 'heapPerConn', 'externalPerConn', 'rssBefore', 'rssAfter', 'connectMs', 'load']
})
let cut = idlePart.cut
const { idle, roundsDone: idleRoundsDone } = idlePart
// The same-round ratios to raw ws.
for (const variant of ONE_NODE) {
  if (idle?.[variant.id] === undefined) continue
  for (const key of ['rssPerConn', 'heapPerConn']) {
    const same = idlePart.rows.filter((row) => row.variant === variant.id && row.error === undefined).map((row) => {
      const raw = idlePart.rows.find((other) => other.variant === 'raw-ws' && other.round === row.round && other.error === undefined)
      return raw === undefined ? NaN : row[key] / raw[key]
    })
    idle[variant.id][`${key}RoundRatio`] = median(same)
  }
}

// 2. One session's round trips, each in-flight count (the "N" of the rounds).
const rttPhase = await broadcastRounds({
  name: 'round trips, in flight',
  rounds: ROUNDS,
  sizes: IN_FLIGHT,
  variants: ONE_NODE,
  once: roundTripsOnce,
  stop: stopAt(RTT_DEADLINE, 'round-trip'),
  describe: (r) => `${fmt(r.perSec)} round trips/s, p50 ${fmt(r.p50Us)} µs, p99 ${fmt(r.p99Us)} µs, CPU/call ${fmt(r.serverCpuUsPerCall, 1)} µs server, ${fmt(r.clientCpuUsPerCall, 1)} µs page (busy ${fmt(100 * r.serverBusy)} % / ${fmt(100 * r.clientBusy)} %), load ${r.load.toFixed(1)}`
})
cut ||= rttPhase.cut
const rtt = roundMedians(rttPhase.rows, {
  groups: IN_FLIGHT,
  variants: ONE_NODE,
  keys: ['perSec', 'p50Us', 'p99Us', 'maxUs', 'count', 'serverCpuUsPerCall', 'clientCpuUsPerCall', 'serverBusy', 'clientBusy', 'load'],
  ratios: { p50VsRaw: ['p50Us', 'raw-ws'], perSecVsRaw: ['perSec', 'raw-ws'], p50VsSocketIo: ['p50Us', 'socket.io'], perSecVsSocketIo: ['perSec', 'socket.io'] }
})

// 3. Calls to all N pages.
const callPhase = await broadcastRounds({
  name: 'calls to all',
  rounds: ROUNDS,
  sizes: SIZES,
  variants: VARIANTS,
  once: callAllOnce,
  stop: stopAt(DEADLINE, 'call-all'),
  describe: (r) => `${fmt(r.medianMs, 1)} ms until every result (${fmt(r.minMs, 1)}–${fmt(r.maxMs, 1)}), ${fmt(r.resultsPerSec)} results/s, CPU/result ${fmt(r.serverCpuUsPerResult, 1)} µs server, ${fmt(r.clientCpuUsPerResult, 1)} µs pages (busy ${fmt(100 * r.clientBusy)} %), load ${r.load.toFixed(1)}`
})
cut ||= callPhase.cut
const callAll = roundMedians(callPhase.rows, {
  groups: SIZES,
  variants: VARIANTS,
  keys: ['medianMs', 'resultsPerSec', 'serverCpuUsPerResult', 'callerCpuUsPerResult', 'redisCpuUsPerResult', 'clientCpuUsPerResult', 'clientBusy', 'connectMs', 'load'],
  // The two-node row against the one-node fastify-datastar of the same round (issue #13's ≥ 0.7×).
  ratios: { perSecVsSocketIo: ['resultsPerSec', 'socket.io'], perSecVsRaw: ['resultsPerSec', 'raw-ws'], perSecVsOneNode: ['resultsPerSec', 'fastify-datastar'] }
})

await bench.finish({
  timeLimitMinutes: LIMIT_MINUTES,
  rounds: ROUNDS,
  selected: SELECTED.map((variant) => variant.id),
  unavailable,
  variants: VARIANTS.map((variant) => variant.id),
  // The variants of the round trips and idle memory (the calls to all have every one of `variants`).
  oneNodeVariants: ONE_NODE.map((variant) => variant.id),
  cut,
  inFlight: IN_FLIGHT,
  rttMs: RTT_MS,
  maxCalls: MAX_CALLS,
  // servers/common.mjs's (the servers inherit this process's environment).
  payloadBytes: Number(process.env.RPC_PAYLOAD_BYTES ?? 100),
  rttRoundsDone: rttPhase.roundsDone,
  rtt,
  rttRounds: rttPhase.rows,
  sizes: SIZES,
  calls: CALLS,
  warmupCalls: WARMUP_CALLS,
  callTimeoutMs: CALL_TIMEOUT,
  callRoundsDone: callPhase.roundsDone,
  callAll,
  callRounds: callPhase.rows,
  idleConnections: IDLE,
  idleRounds: idleRoundsDone,
  idle
}, ['ws', 'fastify', '@fastify/websocket', 'socket.io', 'socket.io-client'])
