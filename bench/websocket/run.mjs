// WebSocket broadcast and idle memory per client: fastify-datastar's WebSocket
// plugin side by side with a bare `ws` server, Fastify + @fastify/websocket and
// socket.io, in one run. Writes bench/websocket/RESULTS.md, websocket.svg and
// results.json.
//
//   npm run bench:websocket                   (builds, then runs with the defaults)
//   npm run build && node bench/websocket/run.mjs [--n 1000,5000] [--rounds 5] [--events 50]
//       [--idle 10000] [--idle-rounds 2] [--variants raw-ws,fastify-websocket,socket.io,fastify-datastar,fastify-datastar-2-nodes]
//       [--diagnostics socket.io-frames,fastify-datastar-core] [--time-limit 8] [--pin on|off] [--client-workers 1] [--client-cpus 1]
//       [--heap-diff raw-ws,fastify-websocket,fastify-datastar,fastify-datastar-core] [--heap-n 2000] [--out bench/websocket/RESULTS.md]
//   node bench/websocket/run.mjs --render bench/websocket/results.json   (RESULTS.md and websocket.svg again, from the data)
//   node bench/websocket/run.mjs --variants fastify-datastar,fastify-datastar-2-nodes --diagnostics '' --idle 0
//       (the two-node row alone, with the one-node row it is compared with in each round)
//
// Every server variant runs in its own process (servers/*.mjs), the load
// generator in another (client.mjs); this process only orchestrates over IPC.
// A variant whose server does not start (fastify-datastar before
// dist/plugins/websocket.js is built, say) is reported as not available.
// Broadcast: a fresh server and client per variant and N, N clients, a warm-up
// burst, then one measured burst of --events messages; the variants take turns
// within a round (in a new order each round) and the medians over rounds are
// reported. Idle memory (measured first): --idle connections held open, server
// RSS and V8 heap after GC, minus the same before them, per connection.
// --time-limit bounds the run: a round starts only if one as long as the
// longest so far still ends in time (the opt-in --heap-diff comes on top).
// The two-node row (fastify-datastar-2-nodes, issue #13): per round, a fresh
// redis-server (bench/common/redis.mjs, on a free port of 127.0.0.1, pinned
// with the servers) and two fastify-datastar processes on it, N/2 clients on
// each in the one room, every broadcast from the first node: deliveries/s
// against the one-node fastify-datastar of the same round. Both nodes and
// redis-server share CPU 0 with pinning (the client keeps CPU 1): the same
// CPU as one node gets, so the ratio is the cost of crossing Redis, not extra
// cores. Without redis-server the row is reported as not available.
// The processes, the measurements and the rounds are bench/common/*.mjs's,
// shared with bench/fanout; this file has the WebSocket bench's choices.
import { broadcastMedians, broadcastRounds, createHarness, idlePhase, log, setup, shuffled, withScratch } from '../common/harness.mjs'
import { fmt } from '../common/report.mjs'
import * as report from './report.mjs'
import * as variants from './variants.mjs'

const bench = await setup(import.meta.url, { variants, report, svgName: 'websocket.svg' }, {
  // Minutes: a round starts only if one as long as the longest so far would still end within it.
  'time-limit': { type: 'string', default: '8' },
  // The client's clients split over this many worker threads (only worth it with spare cores for them:
  // give those with --client-cpus, e.g. --client-workers 2 --client-cpus 1-2 on a 4-core machine).
  'client-workers': { type: 'string', default: '1' },
  'client-cpus': { type: 'string' },
  // Heap snapshots of these variants' servers before and after --heap-n idle clients, diffed by constructor
  // (off by default: about 10 s a variant), e.g. --heap-diff raw-ws,fastify-websocket,fastify-datastar,fastify-datastar-core.
  'heap-diff': { type: 'string', default: '' },
  'heap-n': { type: 'string', default: '2000' }
})
const { args, sizes: SIZES, rounds: ROUNDS, events: EVENTS, idle: IDLE, idleRounds: IDLE_ROUNDS, selected: SELECTED, diagnosed: DIAGNOSED, pin: PIN } = bench
const LIMIT_MINUTES = Number(args['time-limit'])
if (!(LIMIT_MINUTES > 0 && LIMIT_MINUTES <= 240)) throw new Error('--time-limit must be minutes, more than 0 and at most 240')
const HEAP_N = Number(args['heap-n'])
if (!Number.isSafeInteger(HEAP_N) || HEAP_N < 1 || HEAP_N > 20_000) throw new Error('--heap-n must be an integer from 1 to 20000')
const HEAP_DIFF = args['heap-diff'].split(',').filter(Boolean).map(variants.variantById)
if (HEAP_DIFF.some((variant) => (variant.nodes ?? 1) > 1)) throw new Error('--heap-diff takes variants of one node')
const LIMIT_MS = LIMIT_MINUTES * 60_000
const STARTED = bench.started
// The idle rounds (run first) may take up to 35 % of --time-limit, the broadcast rounds the rest:
// a round starts only if one as long as the longest so far would end within its phase's share.
const IDLE_DEADLINE = STARTED + 0.35 * LIMIT_MS
const DEADLINE = STARTED + LIMIT_MS

const CLIENT_WORKERS = Number(args['client-workers'])
if (!Number.isSafeInteger(CLIENT_WORKERS) || CLIENT_WORKERS < 1 || CLIENT_WORKERS > 16) throw new Error('--client-workers must be an integer from 1 to 16')
const CLIENT_CPUS = args['client-cpus'] ?? (PIN ? '1' : undefined)
if (CLIENT_CPUS !== undefined && !/^[0-9]+([-,][0-9]+)*$/.test(CLIENT_CPUS)) throw new Error('--client-cpus must be a CPU list for taskset -c, such as 1 or 1-3')

const PATHS = { ws: '/bench', 'socket.io': '/socket.io/?EIO=4&transport=websocket' }

const harness = createHarness({
  dir: bench.dir,
  fds: bench.fds,
  serverCpu: PIN ? 0 : undefined,
  clientCpu: CLIENT_CPUS,
  clientEnv: { BENCH_CLIENT_WORKERS: String(CLIENT_WORKERS) },
  startTimeoutMs: 20_000,
  connectMessage: (variant) => ({ cmd: 'connect', path: PATHS[variant.protocol], protocol: variant.protocol, client: variant.client }),
  events: EVENTS,
  warmupEvents: bench.warmupEvents
})

// ---------------------------------------------------------------- main

log(`pinning ${PIN ? `on (server CPU 0, with both nodes and redis-server of the two-node row; client CPU ${CLIENT_CPUS})` : 'off'}; client threads: ${CLIENT_WORKERS}; open files per process: ${bench.fds} (hard limit ${bench.fdsHard}); time limit ${LIMIT_MINUTES} min`)

// Which variants can run at all.
const unavailable = {}
for (const variant of [...SELECTED, ...DIAGNOSED, ...HEAP_DIFF.filter((v) => !SELECTED.includes(v) && !DIAGNOSED.includes(v))]) {
  // A diagnostic (or a --heap-diff variant) with the script of a selected variant that starts needs no probe.
  if (!SELECTED.includes(variant) && SELECTED.some((other) => other.script === variant.script && unavailable[other.id] === undefined)) continue
  const why = await harness.probe(variant)
  if (why !== null) {
    unavailable[variant.id] = why
    log(`${variant.id}: not available (${why})`)
  }
}
const available = (variant) => unavailable[variant.id] === undefined
// A row across nodes (nodes: 2) is a broadcast row only: idle memory is per process.
const oneNode = (variant) => (variant.nodes ?? 1) === 1
const FANOUT_VARIANTS = bench.inPhase('fanout').filter(available)
const IDLE_VARIANTS = bench.inPhase('idle').filter(available).filter(oneNode)

// Idle memory first (its duration is about the same every run), then the broadcast rounds in the time left.
const idlePart = await idlePhase(harness, {
  count: IDLE,
  rounds: IDLE_ROUNDS,
  variants: IDLE_VARIANTS,
  order: shuffled,
  // The first round always; another only if one as long as the longest so far ends within its share of the time.
  stop: (round, longest) => round > 1 && Date.now() + longest > IDLE_DEADLINE ? `time limit: no idle round after ${round - 1}` : undefined,
  noun: 'connection',
  keys: ['rssPerConn', 'heapPerConn', 'externalPerConn', 'rssBefore', 'rssAfter', 'heapBefore', 'heapAfter', 'connectMs', 'load']
})
let cut = idlePart.cut
const { idle, roundsDone: idleRoundsDone } = idlePart

const broadcastPhase = await broadcastRounds({
  name: 'broadcast',
  rounds: ROUNDS,
  sizes: SIZES,
  variants: FANOUT_VARIANTS,
  once: harness.burstOnce,
  // The first round always; another only if one as long as the longest so far ends within --time-limit.
  stop: (round, longest) => round > 1 && Date.now() + longest > DEADLINE ? `time limit: no broadcast round after ${round - 1} (the longest took ${fmt(longest / 1000)} s)` : undefined,
  describe: (result) => `${fmt(result.deliveriesPerSec)} deliveries/s, p50 ${fmt(result.p50Ms, 1)} ms, p99 ${fmt(result.p99Ms, 1)} ms, CPU/delivery ${fmt(result.serverCpuUsPerDelivery, 2)} µs server, ${fmt(result.clientCpuUsPerDelivery, 2)} µs client (${fmt(result.clientUserUsPerDelivery, 1)} + ${fmt(result.clientSystemUsPerDelivery, 1)}, busy ${fmt(100 * result.clientBusy)} %), connect ${fmt(result.connectMs)} ms, load ${result.load.toFixed(1)}`
})
const fanoutRounds = broadcastPhase.rows
cut ||= broadcastPhase.cut

const fanout = broadcastMedians(fanoutRounds, {
  sizes: SIZES,
  variants: FANOUT_VARIANTS,
  // The ratio to raw-ws and to socket.io within each round (same machine load), as well as the ratio of the medians.
  // The two-node row against the one-node fastify-datastar of the same round.
  ratios: { roundRatio: 'raw-ws', roundRatioSocketIo: 'socket.io', roundRatioOneNode: 'fastify-datastar' },
  keys: ['deliveriesPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'burstP50Ms', 'burstP99Ms', 'serverCpuUsPerDelivery', 'serverUserUsPerDelivery', 'serverSystemUsPerDelivery', 'redisCpuUsPerDelivery', 'clientCpuUsPerDelivery', 'clientUserUsPerDelivery', 'clientSystemUsPerDelivery', 'clientBusy', 'publishMs', 'connectMs', 'load']
})

// Where the idle memory goes (opt-in): heap snapshots before and after HEAP_N idle clients.
const heap = []
const HEAP_VARIANTS = HEAP_DIFF.filter(available)
if (HEAP_VARIANTS.length > 0) {
  await withScratch('ws-bench', async (scratch) => {
    for (const variant of HEAP_VARIANTS) {
      try {
        // 200 rows kept (the report shows the largest 25), so that two variants' diffs can be compared key by key.
        heap.push({ variant: variant.id, ...(await harness.heapDiff(variant, HEAP_N, scratch, { closures: true, keep: 200 })) })
        log(`heap snapshots of ${variant.id}`)
      } catch (error) {
        log(`heap snapshots of ${variant.id}: FAILED ${error.message}`)
      }
    }
  })
}

const data = {
  timeLimitMinutes: LIMIT_MINUTES,
  sizes: SIZES,
  rounds: ROUNDS,
  roundsDone: broadcastPhase.roundsDone,
  events: EVENTS,
  warmupEvents: bench.warmupEvents,
  idleConnections: IDLE,
  idleRounds: idleRoundsDone,
  selected: SELECTED.map((variant) => variant.id),
  unavailable,
  variants: FANOUT_VARIANTS.map((variant) => variant.id),
  idleVariants: IDLE_VARIANTS.map((variant) => variant.id),
  cut,
  clientCpus: CLIENT_CPUS,
  clientWorkers: CLIENT_WORKERS,
  fanout,
  fanoutRounds,
  idle,
  heapN: HEAP_N,
  heap
}
await bench.finish(data, ['ws', '@fastify/websocket', 'fastify', 'socket.io', 'socket.io-client'])
