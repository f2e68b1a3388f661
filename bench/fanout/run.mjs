// SSE fan-out and idle memory per connection: fastify-datastar's registry
// side by side with raw node:http, the official Datastar SDK, @fastify/sse and
// better-sse, in one run. Writes bench/fanout/RESULTS.md, fanout.svg and
// results.json.
//
//   npm run bench:fanout                      (builds, then runs with the defaults)
//   npm run build && node bench/fanout/run.mjs [--n 1000,5000] [--rounds 5] [--events 50]
//       [--idle 10000] [--idle-rounds 2] [--variants raw,fastify-datastar,...] [--diagnostics raw-socket,...]
//       [--skip-profile] [--time-limit 14] [--pin on|off] [--publish macrotask|same-turn]
//       [--out bench/fanout/RESULTS.md]
//   node bench/fanout/run.mjs --render bench/fanout/results.json   (RESULTS.md and fanout.svg again, from the data)
//
// Every server variant runs in its own process (servers/*.mjs), the load
// generator in another (client.mjs); this process only orchestrates over IPC.
// Fan-out: a fresh server and client per variant, N connections, a warm-up
// burst, then one measured burst of --events events; the variants take turns
// within a round (in a new order each round) and the medians over rounds are
// reported. --publish says how a burst is published: macrotask (the default)
// one broadcast per macrotask, same-turn all of them in one synchronous loop
// (what coalesce 0 gathers). --out other than RESULTS.md writes <name>.json
// and <name>.svg beside it, leaving results.json and fanout.svg alone. Idle
// memory: --idle connections held open, server RSS and heap after GC, minus
// the same before them, per connection. The processes, the
// measurements and the rounds are bench/common/*.mjs's, shared with
// bench/websocket; this file has fan-out's choices and its CPU profiles.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { broadcastMedians, broadcastRounds, createHarness, idlePhase, log, root, setup, withScratch } from '../common/harness.mjs'
import { fmt } from '../common/report.mjs'
import * as report from './report.mjs'
import * as variants from './variants.mjs'

const bench = await setup(import.meta.url, { variants, report, svgName: 'fanout.svg' }, {
  'skip-profile': { type: 'boolean', default: false },
  'time-limit': { type: 'string', default: '14' },
  publish: { type: 'string', default: 'macrotask' }
})
const PUBLISH = bench.args.publish
if (PUBLISH !== 'macrotask' && PUBLISH !== 'same-turn') throw new Error('--publish must be macrotask or same-turn')
const { args, sizes: SIZES, rounds: ROUNDS, events: EVENTS, idle: IDLE, idleRounds: IDLE_ROUNDS, selected: SELECTED, pin: PIN } = bench
// Both phases run the selected variants, each diagnostic runs in its own phases.
const FANOUT_VARIANTS = bench.inPhase('fanout')
const IDLE_VARIANTS = bench.inPhase('idle')
// Rounds stop starting past this many minutes (the run stays bounded on a slow machine).
// The fan-out rounds get 60 % of --time-limit, the idle rounds until 85 %; the profiles take the rest.
const LIMIT_MS = Number(args['time-limit']) * 60_000
const FANOUT_DEADLINE = Date.now() + 0.6 * LIMIT_MS
const IDLE_DEADLINE = Date.now() + 0.85 * LIMIT_MS

const harness = createHarness({
  dir: bench.dir,
  fds: bench.fds,
  serverCpu: PIN ? 0 : undefined,
  clientCpu: PIN ? 1 : undefined,
  connectMessage: () => ({ cmd: 'connect', path: '/sse' }),
  events: EVENTS,
  warmupEvents: bench.warmupEvents,
  publish: PUBLISH
})

/** CPU profile of the server during bursts (after a warm-up), written to `file`. */
async function profileBursts (variant, n, bursts, file) {
  const server = harness.startServer(variant)
  let client = null
  try {
    const { port } = await server.next('ready')
    client = await harness.startClient()
    await harness.connect(client, server, variant, port, n)
    await harness.burst(server, client, bench.warmupEvents)
    await server.request({ cmd: 'profile-start' }, 'profiling')
    for (let i = 0; i < bursts; i++) await harness.burst(server, client, EVENTS)
    await server.request({ cmd: 'profile-stop', path: file }, 'profile', 60_000)
    return file
  } finally {
    await client?.stop()
    await server.stop()
  }
}

// ---------------------------------------------------------------- analysis helpers

/** Self time per function of a .cpuprofile, and per area (ours, fastify, node core, native, GC). */
async function summarizeProfile (file) {
  const profile = JSON.parse(await readFile(file, 'utf8'))
  const total = profile.endTime - profile.startTime
  const perHit = total / profile.samples.length
  const byFunction = new Map()
  const byArea = new Map()
  let busy = 0
  for (const node of profile.nodes) {
    if (node.hitCount === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const us = node.hitCount * perHit
    const name = functionName === '' ? '(anonymous)' : functionName
    const where = url === '' ? '' : `${url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url.startsWith('file://') ? path.relative(root, fileURLToPath(url)) : url}:${lineNumber + 1}`
    const key = where === '' ? name : `${name} (${where})`
    if (name !== '(idle)') busy += us
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    const area = name === '(idle)'
      ? 'idle'
      : name === '(garbage collector)'
        ? 'garbage collector'
        : url === ''
          ? 'native (syscalls, V8 builtins, C++)'
          : url.includes('/dist/src/') || url.includes('/dist/plugins/')
            ? 'fastify-datastar (dist/)'
            : url.includes('node_modules/')
              ? url.slice(url.lastIndexOf('node_modules/') + 13).split('/').slice(0, url.includes('node_modules/@') ? 2 : 1).join('/')
              : url.startsWith('node:')
                ? 'node core (' + url.slice(5).split('/').slice(0, 2).join('/') + ')'
                : path.relative(root, url.startsWith('file://') ? fileURLToPath(url) : url)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
  }
  const top = (map, count) => [...map].filter(([key]) => key !== '(idle)' && key !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, count)
  return { busyMs: busy / 1000, totalMs: total / 1000, functions: top(byFunction, 18), areas: top(byArea, 12) }
}

// ---------------------------------------------------------------- main

const PROFILE_N = Math.max(...SIZES, 0) || 1000
const PROFILE_BURSTS = 3
const HEAP_N = Math.min(IDLE || 2000, 2000)

const fanoutPhase = await broadcastRounds({
  name: 'fan-out',
  rounds: ROUNDS,
  sizes: SIZES,
  variants: FANOUT_VARIANTS,
  once: harness.burstOnce,
  stop: (round) => Date.now() > FANOUT_DEADLINE ? `time limit reached: stopping after ${round - 1} rounds` : undefined,
  describe: (result) => `${fmt(result.deliveriesPerSec)} deliveries/s, p50 ${fmt(result.p50Ms, 1)} ms, p99 ${fmt(result.p99Ms, 1)} ms, CPU/delivery ${fmt(result.serverCpuUsPerDelivery, 2)} µs server, ${fmt(result.clientCpuUsPerDelivery, 2)} µs client, load ${result.load.toFixed(1)}`
})
const fanoutRounds = fanoutPhase.rows
let cut = fanoutPhase.cut

const fanout = broadcastMedians(fanoutRounds, {
  sizes: SIZES,
  variants: FANOUT_VARIANTS,
  // oursRoundRatio: against fastify-datastar with the default coalesce: false, the question of issue #11.
  ratios: { roundRatio: 'raw', oursRoundRatio: 'fastify-datastar' },
  keys: ['deliveriesPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'burstP50Ms', 'burstP99Ms', 'serverCpuUsPerDelivery', 'serverUserUsPerDelivery', 'serverSystemUsPerDelivery', 'clientCpuUsPerDelivery', 'publishMs', 'load']
})

const idlePart = await idlePhase(harness, {
  count: IDLE,
  rounds: IDLE_ROUNDS,
  variants: IDLE_VARIANTS,
  order: (variants) => variants,
  stop: () => Date.now() > IDLE_DEADLINE ? 'time limit reached: no more idle rounds' : undefined,
  noun: 'connection',
  keys: ['rssPerConn', 'heapPerConn', 'externalPerConn', 'rssBefore', 'rssAfter']
})
cut ||= idlePart.cut
const { idle, roundsDone: idleRoundsDone } = idlePart

// Evidence for the analysis: where our server spends its time and memory, against raw's.
const profiles = []
const heap = []
if (!args['skip-profile']) {
  await withScratch('fanout', async (scratch) => {
    for (const variant of SELECTED.filter((v) => v.id === 'raw' || v.id === 'fastify-datastar' || v.id === 'fastify-datastar-uncoalesced' || v.id === 'fastify-datastar-coalesce')) {
      try {
        const file = await profileBursts(variant, PROFILE_N, PROFILE_BURSTS, path.join(scratch, `${variant.id}.cpuprofile`))
        profiles.push({ variant, summary: await summarizeProfile(file) })
        log(`profiled ${variant.id}`)
      } catch (error) {
        log(`profile ${variant.id}: FAILED ${error.message}`)
      }
    }
    if (IDLE > 0) {
      for (const variant of IDLE_VARIANTS.filter((v) => v.id === 'raw' || v.id === 'fastify-hijack' || v.id === 'fastify-datastar')) {
        try {
          heap.push({ variant, diff: await harness.heapDiff(variant, HEAP_N, scratch) })
          log(`heap snapshots of ${variant.id}`)
        } catch (error) {
          log(`heap snapshot ${variant.id}: FAILED ${error.message}`)
        }
      }
    }
  })
}

const data = {
  sizes: SIZES,
  rounds: ROUNDS,
  events: EVENTS,
  publish: PUBLISH,
  idleConnections: IDLE,
  idleRounds: idleRoundsDone,
  variants: FANOUT_VARIANTS.map((variant) => variant.id),
  idleVariants: IDLE_VARIANTS.map((variant) => variant.id),
  profileN: PROFILE_N,
  profileBursts: PROFILE_BURSTS,
  heapN: HEAP_N,
  cut,
  fanout,
  fanoutRounds,
  idle,
  profiles: profiles.map(({ variant, summary }) => ({ variant: variant.id, ...summary })),
  heap: heap.map(({ variant, diff }) => ({ variant: variant.id, ...diff }))
}
await bench.finish(data, ['@starfederation/datastar-sdk', '@fastify/sse', 'better-sse', 'fastify'])
