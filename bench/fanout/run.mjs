// SSE fan-out and idle memory per connection: fastify-datastar's registry
// side by side with raw node:http, the official Datastar SDK, @fastify/sse and
// better-sse, in one run. Writes bench/fanout/RESULTS.md, fanout.svg and
// results.json.
//
//   npm run bench:fanout                      (builds, then runs with the defaults)
//   npm run build && node bench/fanout/run.mjs [--n 1000,5000] [--rounds 5] [--events 50]
//       [--idle 10000] [--idle-rounds 2] [--variants raw,fastify-datastar,...] [--diagnostics raw-socket,...]
//       [--skip-profile] [--time-limit 14] [--pin on|off] [--out bench/fanout/RESULTS.md]
//   node bench/fanout/run.mjs --render bench/fanout/results.json   (RESULTS.md and fanout.svg again, from the data)
//
// Every server variant runs in its own process (servers/*.mjs), the load
// generator in another (client.mjs); this process only orchestrates over IPC.
// Fan-out: a fresh server and client per variant, N connections, a warm-up
// burst, then one measured burst of --events events; the variants take turns
// within a round (in a new order each round) and the medians over rounds are
// reported. Idle memory: --idle connections held open, server RSS and heap
// after GC, minus the same before them, per connection.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile, rm, mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fmt, median, render, verdicts } from './report.mjs'
import { DIAGNOSTICS, VARIANTS, variantById } from './variants.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '1000,5000' },
    rounds: { type: 'string', default: '5' },
    events: { type: 'string', default: '50' },
    idle: { type: 'string', default: '10000' },
    'idle-rounds': { type: 'string', default: '2' },
    variants: { type: 'string', default: VARIANTS.map((variant) => variant.id).join(',') },
    diagnostics: { type: 'string', default: DIAGNOSTICS.map((variant) => variant.id).join(',') },
    'skip-profile': { type: 'boolean', default: false },
    'time-limit': { type: 'string', default: '14' },
    // Server on CPU 0, client on CPU 1 (taskset), so neither migrates nor shares a core with the other.
    pin: { type: 'string', default: 'on' },
    out: { type: 'string', default: path.join(here, 'RESULTS.md') },
    // Only render RESULTS.md and fanout.svg again from a results.json.
    render: { type: 'string' }
  }
})

const SIZES = args.n.split(',').filter(Boolean).map(Number)
const ROUNDS = Number(args.rounds)
const EVENTS = Number(args.events)
const IDLE = Number(args.idle)
const IDLE_ROUNDS = Number(args['idle-rounds'])
const byId = variantById
// Both phases run the selected variants, each diagnostic runs in its own phases.
const SELECTED = args.variants.split(',').filter(Boolean).map(byId)
const DIAGNOSED = args.diagnostics.split(',').filter(Boolean).map(byId).filter((variant) => !SELECTED.includes(variant))
const FANOUT_VARIANTS = [...SELECTED, ...DIAGNOSED.filter((variant) => variant.phases?.includes('fanout'))]
const IDLE_VARIANTS = [...SELECTED, ...DIAGNOSED.filter((variant) => variant.phases?.includes('idle'))]
// Rounds stop starting past this many minutes (the run stays bounded on a slow machine).
// The fan-out rounds get 60 % of --time-limit, the idle rounds until 85 %; the profiles take the rest.
const LIMIT_MS = Number(args['time-limit']) * 60_000
const FANOUT_DEADLINE = Date.now() + 0.6 * LIMIT_MS
const IDLE_DEADLINE = Date.now() + 0.85 * LIMIT_MS
for (const [name, value] of [['rounds', ROUNDS], ['events', EVENTS], ['idle', IDLE], ['idle-rounds', IDLE_ROUNDS], ...SIZES.map((n) => ['n', n])]) {
  if (!Number.isSafeInteger(value) || value < 0 || value > 50_000) throw new Error(`--${name} must be an integer from 0 to 50000`)
}

const PIN = args.pin === 'on' && os.cpus().length >= 2 && hasTaskset()
function hasTaskset () {
  try {
    return spawnSync('taskset', ['-p', String(process.pid)]).status === 0
  } catch {
    return false
  }
}
const COMMAND = ['node', path.relative(root, fileURLToPath(import.meta.url)), ...process.argv.slice(2)].join(' ')
const ROUND_TIMEOUT_MS = 60_000
// The warm-up burst before each measured one: enough writes for the JIT, without doubling the run.
const WARMUP_EVENTS = Math.min(EVENTS, 10)
const CONNECT_TIMEOUT_MS = 180_000
const log = (...parts) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...parts)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------- processes

/** A node child process spoken to over IPC, started through sh to raise its fd limit first. */
class Child {
  constructor (script, { env = {}, fds = 1024, nodeArgs = [], cpu } = {}) {
    this.name = path.basename(script)
    this.inbox = []
    this.waiters = []
    this.exited = null
    // `ulimit -n` up to what the hard limit allows, then exec node (same pid, same IPC channel),
    // through `taskset` when pinned to a CPU.
    const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)]
    this.process = spawn('sh', ['-c', 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', String(fds), ...pin, process.execPath, '--expose-gc', ...nodeArgs, script], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env }
    })
    this.process.on('message', (message) => {
      const index = this.waiters.findIndex((waiter) => waiter.type === message.type || message.type === 'error')
      if (index === -1) {
        this.inbox.push(message)
        return
      }
      const [waiter] = this.waiters.splice(index, 1)
      waiter.settle(message)
    })
    this.process.on('exit', (code, signal) => {
      this.exited = { code, signal }
      for (const waiter of this.waiters.splice(0)) waiter.settle({ type: 'error', message: `${this.name} exited (${code ?? signal})` })
    })
  }

  /** The next message of `type`, within `timeoutMs`. */
  next (type, timeoutMs = 10_000) {
    const index = this.inbox.findIndex((message) => message.type === type)
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0])
    if (this.exited !== null) return Promise.reject(new Error(`${this.name} exited (${this.exited.code ?? this.exited.signal})`))
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        settle: (message) => {
          clearTimeout(timer)
          if (message.type === 'error') reject(new Error(`${this.name}: ${message.message}`))
          else resolve(message)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  request (message, type, timeoutMs) {
    const reply = this.next(type, timeoutMs)
    this.process.send(message)
    return reply
  }

  /** Asks the process to close and exit; kills it (by its pid) if it does not within 10 s. */
  async stop () {
    if (this.exited !== null) return
    const exited = new Promise((resolve) => this.process.once('exit', resolve))
    try {
      this.process.send({ cmd: 'close' })
    } catch {}
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

function startServer (variant, options = {}) {
  return new Child(path.join(here, 'servers', variant.script), { env: variant.env, fds: 20_000, cpu: PIN ? 0 : undefined, ...options })
}

async function startClient () {
  const client = new Child(path.join(here, 'client.mjs'), { fds: 20_000, cpu: PIN ? 1 : undefined })
  await client.next('ready')
  return client
}

/** Source addresses for n connections: 127.0.0.1 alone unless n would exhaust its ephemeral ports. */
function sourcesFor (n) {
  const perAddress = 20_000
  if (n <= perAddress) return []
  return Array.from({ length: Math.ceil(n / perAddress) }, (_, i) => `127.0.0.${i + 1}`)
}

async function connect (client, server, port, n) {
  const connected = await client.request({ cmd: 'connect', port, n, path: '/sse', sources: sourcesFor(n) }, 'connected', CONNECT_TIMEOUT_MS)
  if (connected.open !== n) throw new Error(`only ${connected.open} of ${n} connections opened: ${JSON.stringify(connected.errors)}`)
  await waitForCount(server, n)
  return connected
}

/** Waits until the server has `n` subscribers registered (bounded). */
async function waitForCount (server, n, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs
  for (;;) {
    const { count } = await server.request({ cmd: 'count' }, 'count')
    if (count === n) return
    if (Date.now() > until) throw new Error(`server has ${count} subscribers, expected ${n}`)
    await sleep(50)
  }
}

let burstId = 0

/** `items` in an order drawn from `seed` (mulberry32). */
function shuffled (items, seed) {
  let state = seed >>> 0
  const random = () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** One burst of `events` publishes, measured by the client. */
async function burst (server, client, events) {
  const id = ++burstId
  await client.request({ cmd: 'arm', round: id, events, timeoutMs: ROUND_TIMEOUT_MS }, 'armed')
  const done = client.next('round', ROUND_TIMEOUT_MS + 5000)
  const published = await server.request({ cmd: 'publish', round: id, events }, 'published', ROUND_TIMEOUT_MS)
  const result = await done
  return { ...result, publishMs: published.ms }
}

// ---------------------------------------------------------------- measurements

async function fanoutOnce (variant, n) {
  const server = startServer(variant)
  let client = null
  try {
    const { port } = await server.next('ready')
    client = await startClient()
    const connected = await connect(client, server, port, n)
    await burst(server, client, WARMUP_EVENTS)
    const before = await server.request({ cmd: 'cpu' }, 'cpu')
    const result = await burst(server, client, EVENTS)
    const after = await server.request({ cmd: 'cpu' }, 'cpu')
    const cpuUs = (after.user - before.user) + (after.system - before.system)
    return {
      complete: result.complete,
      received: result.received,
      expected: result.expected,
      short: result.short,
      deliveriesPerSec: result.received / (result.spanUs / 1e6),
      spanMs: result.spanUs / 1000,
      p50Ms: result.p50Us / 1000,
      p99Ms: result.p99Us / 1000,
      maxMs: result.maxUs / 1000,
      burstP50Ms: result.burstP50Us / 1000,
      burstP99Ms: result.burstP99Us / 1000,
      publishMs: result.publishMs,
      serverCpuUsPerDelivery: cpuUs / result.received,
      // User time is JavaScript and libuv; system time is mostly the write syscalls (loopback TCP included).
      serverUserUsPerDelivery: (after.user - before.user) / result.received,
      serverSystemUsPerDelivery: (after.system - before.system) / result.received,
      clientCpuUsPerDelivery: result.cpuUs / result.received,
      connectMs: connected.ms,
      load: os.loadavg()[0]
    }
  } finally {
    await client?.stop()
    await server.stop()
  }
}

async function idleOnce (variant, n, snapshotDir) {
  const server = startServer(variant)
  let client = null
  try {
    const { port, gc } = await server.next('ready')
    if (!gc) throw new Error('the server has no global gc (--expose-gc)')
    // Warm-up: open and close some connections so code paths are compiled before the baseline.
    client = await startClient()
    await connect(client, server, port, Math.min(200, n))
    await client.stop()
    await waitForCount(server, 0)
    const before = await server.request({ cmd: 'mem' }, 'mem', 30_000)
    let snapshots = null
    if (snapshotDir !== undefined) {
      snapshots = { before: (await server.request({ cmd: 'snapshot', path: path.join(snapshotDir, `${variant.id}-before.heapsnapshot`) }, 'snapshot', 120_000)).path }
    }
    client = await startClient()
    await connect(client, server, port, n)
    await sleep(500)
    const after = await server.request({ cmd: 'mem' }, 'mem', 30_000)
    if (snapshots !== null) {
      snapshots.after = (await server.request({ cmd: 'snapshot', path: path.join(snapshotDir, `${variant.id}-after.heapsnapshot`) }, 'snapshot', 120_000)).path
    }
    return {
      rssPerConn: (after.rss - before.rss) / n,
      heapPerConn: (after.heapUsed - before.heapUsed) / n,
      externalPerConn: (after.external - before.external) / n,
      rssBefore: before.rss,
      rssAfter: after.rss,
      load: os.loadavg()[0],
      snapshots
    }
  } finally {
    await client?.stop()
    await server.stop()
  }
}

/** CPU profile of the server during bursts (after a warm-up), written to `file`. */
async function profileBursts (variant, n, bursts, file) {
  const server = startServer(variant)
  let client = null
  try {
    const { port } = await server.next('ready')
    client = await startClient()
    await connect(client, server, port, n)
    await burst(server, client, WARMUP_EVENTS)
    await server.request({ cmd: 'profile-start' }, 'profiling')
    for (let i = 0; i < bursts; i++) await burst(server, client, EVENTS)
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

/** Bytes and objects per connection by (type, constructor) between two heap snapshots. */
async function diffSnapshots (beforeFile, afterFile, n) {
  const count = async (file) => {
    const snapshot = JSON.parse(await readFile(file, 'utf8'))
    const meta = snapshot.snapshot.meta
    const fields = meta.node_fields
    const width = fields.length
    const typeAt = fields.indexOf('type')
    const nameAt = fields.indexOf('name')
    const sizeAt = fields.indexOf('self_size')
    const types = meta.node_types[0]
    const totals = new Map()
    const nodes = snapshot.nodes
    for (let i = 0; i < nodes.length; i += width) {
      const type = types[nodes[i + typeAt]]
      let name = snapshot.strings[nodes[i + nameAt]]
      if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)'
      else if (type === 'code') name = '(compiled code)'
      else if (type === 'number') name = '(heap numbers)'
      else if (type === 'array') name = `(array) ${name}`
      const key = `${type}: ${name}`
      const entry = totals.get(key) ?? { bytes: 0, count: 0 }
      entry.bytes += nodes[i + sizeAt]
      entry.count++
      totals.set(key, entry)
    }
    return totals
  }
  const before = await count(beforeFile)
  const after = await count(afterFile)
  const rows = []
  let totalBytes = 0
  for (const [key, entry] of after) {
    const base = before.get(key) ?? { bytes: 0, count: 0 }
    const bytes = (entry.bytes - base.bytes) / n
    const objects = (entry.count - base.count) / n
    totalBytes += bytes
    if (Math.abs(bytes) >= 1) rows.push({ key, bytes, objects })
  }
  rows.sort((a, b) => b.bytes - a.bytes)
  return { totalBytes, rows: rows.slice(0, 25) }
}

// ---------------------------------------------------------------- main

/** Writes RESULTS.md (at --out), fanout.svg beside it, and the data as JSON (unless rendering again). */
async function writeOutputs (data, jsonFile) {
  const out = path.resolve(args.out)
  await mkdir(path.dirname(out), { recursive: true })
  if (jsonFile !== undefined) await writeFile(jsonFile, JSON.stringify(data, null, 2) + '\n')
  const { markdown, svg } = render(data)
  await writeFile(path.join(path.dirname(out), 'fanout.svg'), svg)
  await writeFile(out, markdown)
  log(`wrote ${path.relative(root, out)} and fanout.svg${jsonFile === undefined ? '' : ` (data: ${path.relative(root, jsonFile)})`}`)
}

if (args.render !== undefined) {
  const data = JSON.parse(await readFile(args.render, 'utf8'))
  await writeOutputs(data)
  for (const line of verdicts(data)) console.log(line)
  process.exit(0)
}

const PROFILE_N = Math.max(...SIZES, 0) || 1000
const PROFILE_BURSTS = 3
const HEAP_N = Math.min(IDLE || 2000, 2000)

const startedAt = new Date().toISOString()
const fanoutRounds = []
let cut = false

for (let round = 1; round <= ROUNDS; round++) {
  if (Date.now() > FANOUT_DEADLINE) {
    cut = true
    log(`time limit reached: stopping after ${round - 1} rounds`)
    break
  }
  for (const n of SIZES) {
    // A new order every round (seeded, so a run can be repeated): no variant always runs first or after the same one.
    const order = shuffled(FANOUT_VARIANTS, round * 1000 + n)
    for (const variant of order) {
      try {
        const result = await fanoutOnce(variant, n)
        fanoutRounds.push({ n, variant: variant.id, round, ...result })
        log(`fan-out N=${n} ${variant.id} round ${round}: ${fmt(result.deliveriesPerSec)} deliveries/s, p50 ${fmt(result.p50Ms, 1)} ms, p99 ${fmt(result.p99Ms, 1)} ms, CPU/delivery ${fmt(result.serverCpuUsPerDelivery, 2)} µs server, ${fmt(result.clientCpuUsPerDelivery, 2)} µs client, load ${result.load.toFixed(1)}${result.complete ? '' : ` INCOMPLETE ${result.received}/${result.expected}`}`)
      } catch (error) {
        fanoutRounds.push({ n, variant: variant.id, round, error: error.message.split('\n')[0] })
        log(`fan-out N=${n} ${variant.id} round ${round}: FAILED ${error.message}`)
      }
    }
  }
}

const fanout = {}
for (const n of SIZES) {
  fanout[n] = {}
  for (const variant of FANOUT_VARIANTS) {
    const rows = fanoutRounds.filter((row) => row.n === n && row.variant === variant.id && row.error === undefined)
    if (rows.length === 0) continue
    // Incomplete rounds count with what arrived (their rate is what it is); they are flagged in the table.
    // The ratio to raw within each round (same machine load), as well as the ratio of the medians.
    const ratios = rows.map((row) => {
      const raw = fanoutRounds.find((other) => other.n === n && other.variant === 'raw' && other.round === row.round && other.error === undefined)
      return raw === undefined ? NaN : row.deliveriesPerSec / raw.deliveriesPerSec
    })
    fanout[n][variant.id] = {
      rounds: rows.length,
      completeRounds: rows.filter((row) => row.complete).length,
      roundRatio: median(ratios),
      ...Object.fromEntries(['deliveriesPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'burstP50Ms', 'burstP99Ms', 'serverCpuUsPerDelivery', 'serverUserUsPerDelivery', 'serverSystemUsPerDelivery', 'clientCpuUsPerDelivery', 'publishMs', 'load'].map((key) => [key, median(rows.map((row) => row[key]))]))
    }
  }
}

let idle = null
const idleAll = []
let idleRoundsDone = 0
if (IDLE > 0 && IDLE_ROUNDS > 0) {
  for (let round = 1; round <= IDLE_ROUNDS; round++) {
    if (Date.now() > IDLE_DEADLINE) {
      cut = true
      log('time limit reached: no more idle rounds')
      break
    }
    idleRoundsDone = round
    for (const variant of IDLE_VARIANTS) {
      try {
        const result = await idleOnce(variant, IDLE)
        idleAll.push({ variant: variant.id, round, ...result })
        log(`idle ${variant.id} round ${round}: ${fmt(result.rssPerConn)} B RSS, ${fmt(result.heapPerConn)} B heap per connection`)
      } catch (error) {
        idleAll.push({ variant: variant.id, round, error: error.message.split('\n')[0] })
        log(`idle ${variant.id} round ${round}: FAILED ${error.message}`)
      }
    }
  }
  idle = { all: idleAll }
  for (const variant of IDLE_VARIANTS) {
    const rows = idleAll.filter((row) => row.variant === variant.id && row.error === undefined)
    if (rows.length === 0) continue
    idle[variant.id] = Object.fromEntries(['rssPerConn', 'heapPerConn', 'externalPerConn', 'rssBefore', 'rssAfter'].map((key) => [key, median(rows.map((row) => row[key]))]))
  }
}

// Evidence for the analysis: where our server spends its time and memory, against raw's.
const profiles = []
const heap = []
if (!args['skip-profile']) {
  const scratch = path.join(os.tmpdir(), `fanout-${process.pid}`)
  await mkdir(scratch, { recursive: true })
  try {
    for (const variant of SELECTED.filter((v) => v.id === 'raw' || v.id === 'fastify-datastar' || v.id === 'fastify-datastar-coalesce')) {
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
          const result = await idleOnce(variant, HEAP_N, scratch)
          heap.push({ variant, diff: await diffSnapshots(result.snapshots.before, result.snapshots.after, HEAP_N) })
          log(`heap snapshots of ${variant.id}`)
        } catch (error) {
          log(`heap snapshot ${variant.id}: FAILED ${error.message}`)
        }
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

const finishedAt = new Date().toISOString()
const version = (file) => JSON.parse(readFileSync(file, 'utf8')).version
// Which code was measured (read-only git queries): the commit, and whether src/ or plugins/ differed from it.
const git = (...gitArgs) => {
  const result = spawnSync('git', gitArgs, { cwd: root, encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : undefined
}
const commit = git('rev-parse', '--short', 'HEAD')
const dirty = git('status', '--porcelain', '--', 'src', 'plugins')
const data = {
  command: COMMAND,
  startedAt,
  finishedAt,
  node: process.versions.node,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model.trim(),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()}`,
  commit: commit === undefined ? undefined : `${commit}${dirty === '' ? '' : ' + uncommitted changes in src/ or plugins/'}`,
  versions: {
    'fastify-datastar': version(path.join(root, 'package.json')),
    ...Object.fromEntries(['@starfederation/datastar-sdk', '@fastify/sse', 'better-sse', 'fastify'].map((name) => [name, version(path.join(root, 'node_modules', name, 'package.json'))]))
  },
  sizes: SIZES,
  rounds: ROUNDS,
  events: EVENTS,
  idleConnections: IDLE,
  idleRounds: idleRoundsDone,
  variants: FANOUT_VARIANTS.map((variant) => variant.id),
  idleVariants: IDLE_VARIANTS.map((variant) => variant.id),
  profileN: PROFILE_N,
  profileBursts: PROFILE_BURSTS,
  heapN: HEAP_N,
  cut,
  pinned: PIN,
  fanout,
  fanoutRounds,
  idle,
  profiles: profiles.map(({ variant, summary }) => ({ variant: variant.id, ...summary })),
  heap: heap.map(({ variant, diff }) => ({ variant: variant.id, ...diff }))
}
await writeOutputs(data, path.join(path.dirname(path.resolve(args.out)), 'results.json'))
for (const line of verdicts(data)) console.log(line)
