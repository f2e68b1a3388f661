// What the orchestrators of bench/fanout and bench/websocket (each bench's
// run.mjs) share: their common options, the measurements of one variant (a
// burst, idle memory), the rounds of each phase with their medians, heap
// snapshot diffs, what a run records about the machine and the code, and
// writing RESULTS.md, the chart and results.json.
//
// A bench's run.mjs says which variants it has, what its client's connect
// message is, its time budget and its report; the server and client
// processes speak the protocols of bench/common/server.mjs and client.mjs.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Child, fileLimit, hasTaskset } from './child.mjs'
import { diffSnapshots } from './heap.mjs'
import { redisUnavailable, startRedis } from './redis.mjs'
import { fmt, median } from './report.mjs'

export const log = (...parts) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...parts)
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The repository's root (bench/common/../..). */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const ROUND_TIMEOUT_MS = 60_000
const CONNECT_TIMEOUT_MS = 180_000
// Nodes of a cluster listing each other (heartbeats every 2 s), and a room's relay listening.
const MESH_TIMEOUT_MS = 15_000

// ---------------------------------------------------------------- options

/**
 * The start of a bench's run.mjs (`scriptUrl`, its import.meta.url), given its
 * `variants` module (VARIANTS, DIAGNOSTICS, variantById), its `report` module
 * (render, verdicts), the name of its chart and its own parseArgs `options`:
 * the options every bench has and its own parsed; with --render, the outputs
 * written again from that results.json, then exit; otherwise the counts
 * checked (sizes, rounds, events, idle, idleRounds), the variants of
 * --variants (both phases) and --diagnostics (each in its `phases` only,
 * unless also in --variants) with `inPhase(phase)`, pinning (two CPUs and
 * taskset), the open-files limit each process gets, and `finish(data)` to
 * write RESULTS.md, the chart and results.json and print the verdicts.
 */
export async function setup (scriptUrl, { variants: { VARIANTS, DIAGNOSTICS, variantById }, report: { render, verdicts }, svgName }, options) {
  const started = Date.now()
  const dir = path.dirname(fileURLToPath(scriptUrl))
  const { values: args } = parseArgs({
    options: {
      n: { type: 'string', default: '1000,5000' },
      rounds: { type: 'string', default: '5' },
      events: { type: 'string', default: '50' },
      idle: { type: 'string', default: '10000' },
      'idle-rounds': { type: 'string', default: '2' },
      variants: { type: 'string', default: VARIANTS.map((variant) => variant.id).join(',') },
      diagnostics: { type: 'string', default: DIAGNOSTICS.map((variant) => variant.id).join(',') },
      // Server on CPU 0, client on CPU 1 (taskset), so neither migrates nor shares a core with the other.
      pin: { type: 'string', default: 'on' },
      out: { type: 'string', default: path.join(dir, 'RESULTS.md') },
      // Only render RESULTS.md and the chart again from a results.json.
      render: { type: 'string' },
      ...options
    }
  })
  const write = (data, jsonFile) => writeOutputs({ data, out: args.out, svgName, render, jsonFile })
  if (args.render !== undefined) {
    const data = JSON.parse(await readFile(args.render, 'utf8'))
    await write(data)
    for (const line of verdicts(data)) console.log(line)
    process.exit(0)
  }

  const sizes = args.n.split(',').filter(Boolean).map(Number)
  const numbers = { sizes, rounds: Number(args.rounds), events: Number(args.events), idle: Number(args.idle), idleRounds: Number(args['idle-rounds']) }
  for (const [name, value] of [['rounds', numbers.rounds], ['events', numbers.events], ['idle', numbers.idle], ['idle-rounds', numbers.idleRounds], ...sizes.map((n) => ['n', n])]) {
    if (!Number.isSafeInteger(value) || value < 0 || value > 50_000) throw new Error(`--${name} must be an integer from 0 to 50000`)
  }
  const selected = args.variants.split(',').filter(Boolean).map(variantById)
  const diagnosed = args.diagnostics.split(',').filter(Boolean).map(variantById).filter((variant) => !selected.includes(variant))
  // Each process holds a descriptor per connection: the open-files limit is raised to what the largest phase needs.
  const { fds, hard } = fileLimit(Math.max(numbers.idle, ...sizes, 0) + 1024)
  return {
    dir,
    args,
    ...numbers,
    // The warm-up burst before each measured one: enough sends for the JIT, without doubling the run.
    warmupEvents: Math.min(numbers.events, 10),
    selected,
    diagnosed,
    inPhase: (phase) => [...selected, ...diagnosed.filter((variant) => variant.phases?.includes(phase))],
    pin: args.pin === 'on' && os.cpus().length >= 2 && hasTaskset(),
    fds,
    fdsHard: hard,
    // The command line of this run, as a reader would type it from the repository's root.
    // An argument a shell would split or drop (empty, spaces, quotes) is single-quoted.
    command: ['node', path.relative(root, fileURLToPath(scriptUrl)), ...process.argv.slice(2)].map((arg) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`).join(' '),
    // When the run began (ms): time limits count from here.
    started,
    /**
     * Writes the run: `data` after what every bench records (the command, when
     * it ran, the machine, the versions of `packages`, open files, pinning).
     */
    async finish (data, packages) {
      const { versions, ...machine } = environment(packages)
      const header = {
        command: this.command,
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date().toISOString(),
        minutes: (Date.now() - started) / 60_000,
        ...machine,
        versions,
        fdsPerProcess: this.fds,
        pinned: this.pin
      }
      await write({ ...header, ...data }, outputNames(args.out, svgName).jsonFile)
      for (const line of verdicts(data)) console.log(line)
    }
  }
}

// ---------------------------------------------------------------- measurements

/** `items` in an order drawn from `seed` (mulberry32). */
export function shuffled (items, seed) {
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

/** Source addresses for n connections: 127.0.0.1 alone unless n would exhaust its ephemeral ports. */
function sourcesFor (n) {
  const perAddress = 20_000
  if (n <= perAddress) return []
  return Array.from({ length: Math.ceil(n / perAddress) }, (_, i) => `127.0.0.${i + 1}`)
}

/** Waits until the server counts `n` connections (bounded). */
async function waitForCount (server, n, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs
  for (;;) {
    const { count } = await server.request({ cmd: 'count' }, 'count')
    if (count === n) return
    if (Date.now() > until) throw new Error(`server counts ${count} connections, expected ${n}`)
    await sleep(50)
  }
}

/**
 * The measurements of one bench, its processes in `dir` (servers/<script>,
 * client.mjs). `connectMessage(variant, port, n)` is the client's connect
 * command (sources are added); `events` and `warmupEvents` the bursts' sizes;
 * `publish` how a burst is published (bench/common/server.mjs: 'macrotask',
 * the default, or 'same-turn').
 */
export function createHarness ({ dir, fds, serverCpu, clientCpu, clientEnv = {}, startTimeoutMs = 10_000, connectMessage, events, warmupEvents, publish = 'macrotask' }) {
  let burstId = 0

  function startServer (variant, options = {}) {
    return new Child(path.join(dir, 'servers', variant.script), { cwd: root, env: variant.env, fds, cpu: serverCpu, ...options })
  }

  async function startClient () {
    const client = new Child(path.join(dir, 'client.mjs'), { cwd: root, fds, cpu: clientCpu, env: clientEnv })
    await client.next('ready', startTimeoutMs)
    return client
  }

  async function connect (client, server, variant, port, n) {
    const connected = await client.request({ ...connectMessage(variant, port, n), port, n, sources: sourcesFor(n) }, 'connected', CONNECT_TIMEOUT_MS)
    if (connected.open !== n) throw new Error(`only ${connected.open} of ${n} connections opened: ${JSON.stringify(connected.errors)}`)
    await waitForCount(server, n)
    return connected
  }

  /** One burst of `count` broadcasts, measured by the client. */
  async function burst (server, client, count) {
    const id = ++burstId
    await client.request({ cmd: 'arm', round: id, events: count, timeoutMs: ROUND_TIMEOUT_MS }, 'armed')
    const done = client.next('round', ROUND_TIMEOUT_MS + 5000)
    const published = await server.request({ cmd: 'publish', round: id, events: count, pattern: publish }, 'published', ROUND_TIMEOUT_MS)
    const result = await done
    return { ...result, publishMs: published.ms, handed: published.handed }
  }

  /**
   * The servers of `variant`, each its own process: one, or with `variant.nodes`
   * (2) that many nodes of one cluster on a redis-server started for them
   * (pinned with the servers; its URL in their BENCH_REDIS_URL), each node
   * waited for until it lists them all (`mesh`).
   * `{ servers, ports, redis, stop() }`; on a failure everything started is stopped.
   */
  async function startNodes (variant, options = {}) {
    const count = variant.nodes ?? 1
    const servers = []
    let redis = null
    const stop = async () => {
      for (const server of servers) await server.stop()
      await redis?.stop()
    }
    try {
      if (count > 1) redis = await startRedis({ cpu: serverCpu })
      const env = redis === null ? variant.env : { ...variant.env, BENCH_REDIS_URL: redis.url }
      for (let i = 0; i < count; i++) servers.push(startServer(variant, { ...options, env }))
      const ports = []
      for (const server of servers) ports.push((await server.next('ready', startTimeoutMs)).port)
      if (count > 1) for (const server of servers) await server.request({ cmd: 'mesh', nodes: count, timeoutMs: MESH_TIMEOUT_MS }, 'mesh', MESH_TIMEOUT_MS + 5000)
      return { servers, ports, redis, stop }
    } catch (error) {
      // What a server printed last says more than a missing 'ready' does.
      error.why = servers.map((server) => server.why()).find(Boolean)
      await stop()
      throw error
    }
  }

  /**
   * n connections of one client split evenly over the nodes (the first ones
   * get one more when n does not divide), each node's share opened and
   * counted by it; then, with several nodes, each told to `mesh` again (the
   * rooms' relays listen once a room exists there). `ms` is the connecting time of all shares.
   */
  async function connectNodes (client, nodes, variant, n) {
    const { servers, ports } = nodes
    let open = 0
    let ms = 0
    const shares = servers.map((_, i) => Math.floor(n / servers.length) + (i < n % servers.length ? 1 : 0))
    for (let i = 0; i < servers.length; i++) {
      const share = shares[i]
      if (share === 0) continue
      const connected = await client.request({ ...connectMessage(variant, ports[i], share), port: ports[i], n: share, sources: sourcesFor(share) }, 'connected', CONNECT_TIMEOUT_MS)
      // The client's count is of all its connections, the earlier shares included.
      open += share
      if (connected.open !== open) throw new Error(`only ${connected.open} of ${open} connections opened (node ${i + 1} of ${servers.length}): ${JSON.stringify(connected.errors)}`)
      ms += connected.ms
    }
    for (let i = 0; i < servers.length; i++) await waitForCount(servers[i], shares[i])
    if (servers.length > 1) for (const server of servers) await server.request({ cmd: 'mesh', nodes: servers.length, timeoutMs: MESH_TIMEOUT_MS }, 'mesh', MESH_TIMEOUT_MS + 5000)
    return { open, ms }
  }

  /** Whether the variant's server starts at all (its module loads, it listens; across nodes, they mesh on a redis-server): null, or why not. */
  async function probe (variant) {
    if ((variant.nodes ?? 1) > 1) {
      const why = redisUnavailable()
      if (why !== null) return why
    }
    let nodes = null
    try {
      // Quiet: a missing module's stack trace is summed up in one line (why()).
      nodes = await startNodes(variant, { quiet: true })
      return null
    } catch (error) {
      return error.why || error.message
    } finally {
      await nodes?.stop()
    }
  }

  /**
   * A fresh server and client, n connections, a warm-up burst, then one
   * measured burst. With `variant.nodes`, fresh nodes on a fresh redis-server,
   * the n connections split over them, every burst published on the first
   * node; server CPU is the nodes' together, redis-server's given apart.
   */
  async function burstOnce (variant, n) {
    let nodes = null
    let client = null
    try {
      nodes = await startNodes(variant)
      const { servers, redis } = nodes
      const [server] = servers
      client = await startClient()
      const connected = await connectNodes(client, nodes, variant, n)
      await burst(server, client, warmupEvents)
      const cpu = async () => {
        const each = []
        for (const node of servers) each.push(await node.request({ cmd: 'cpu' }, 'cpu'))
        return { user: each.reduce((sum, c) => sum + c.user, 0), system: each.reduce((sum, c) => sum + c.system, 0), redis: redis?.cpuUs() }
      }
      const before = await cpu()
      const result = await burst(server, client, events)
      const after = await cpu()
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
        // What broadcast() said it handed the messages to (only the variants whose broadcast returns a count; across nodes, the first node's own clients).
        handed: result.handed,
        serverCpuUsPerDelivery: cpuUs / result.received,
        // User time is JavaScript and libuv; system time is mostly the write syscalls (loopback TCP included).
        serverUserUsPerDelivery: (after.user - before.user) / result.received,
        serverSystemUsPerDelivery: (after.system - before.system) / result.received,
        // Across nodes: redis-server's CPU time (/proc, 10 ms ticks) per delivery.
        ...(redis === null ? {} : { nodes: servers.length, redisCpuUsPerDelivery: (after.redis - before.redis) / result.received }),
        clientCpuUsPerDelivery: result.cpuUs / result.received,
        clientUserUsPerDelivery: result.cpuUserUs / result.received,
        clientSystemUsPerDelivery: result.cpuSystemUs / result.received,
        // Share of the burst the client process spent on its CPU: near 1, the client is the bottleneck.
        clientBusy: result.cpuUs / result.spanUs,
        connectMs: connected.ms,
        load: os.loadavg()[0]
      }
    } finally {
      await client?.stop()
      await nodes?.stop()
    }
  }

  /**
   * Idle memory: a fresh server, 200 connections opened and closed (warm-up),
   * then n held open; RSS and heap after GC, minus the same before them, per
   * connection. With `snapshotDir`, heap snapshots before and after as well.
   */
  async function idleOnce (variant, n, snapshotDir) {
    const server = startServer(variant)
    let client = null
    try {
      const { port, gc } = await server.next('ready', startTimeoutMs)
      if (!gc) throw new Error('the server has no global gc (--expose-gc)')
      // Warm-up: open and close some connections so code paths are compiled before the baseline.
      client = await startClient()
      await connect(client, server, variant, port, Math.min(200, n))
      await client.stop()
      await waitForCount(server, 0)
      const before = await server.request({ cmd: 'mem' }, 'mem', 30_000)
      const snapshot = (name) => server.request({ cmd: 'snapshot', path: path.join(snapshotDir, `${variant.id}-${name}.heapsnapshot`) }, 'snapshot', 120_000)
      const snapshots = snapshotDir === undefined ? null : { before: (await snapshot('before')).path }
      client = await startClient()
      const connected = await connect(client, server, variant, port, n)
      await sleep(500)
      const after = await server.request({ cmd: 'mem' }, 'mem', 30_000)
      if (snapshots !== null) snapshots.after = (await snapshot('after')).path
      return {
        snapshots,
        rssPerConn: (after.rss - before.rss) / n,
        heapPerConn: (after.heapUsed - before.heapUsed) / n,
        externalPerConn: (after.external - before.external) / n,
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
        connectMs: connected.ms,
        load: os.loadavg()[0]
      }
    } finally {
      await client?.stop()
      await server.stop()
    }
  }

  /** Heap snapshots of `variant`'s server before and after n idle connections, diffed (diffSnapshots). */
  async function heapDiff (variant, n, scratch, options) {
    const result = await idleOnce(variant, n, scratch)
    return diffSnapshots(result.snapshots.before, result.snapshots.after, n, options)
  }

  return { startServer, startNodes, startClient, connect, connectNodes, burst, probe, burstOnce, idleOnce, heapDiff }
}

/** A scratch directory under the system's temporary one for `work(dir)`, removed afterwards. */
export async function withScratch (name, work) {
  const scratch = path.join(os.tmpdir(), `${name}-${process.pid}`)
  await mkdir(scratch, { recursive: true })
  try {
    return await work(scratch)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- phases

/**
 * Rounds of a phase: before each, `stop(round, longestMs)` may give a reason
 * to stop (the phase is then cut); `jobs(round)` are its measurements, each
 * `{ row, label, run() }`, recorded as `{ ...row, ...result }` (or with the
 * error) and logged as `<label>: <describe(result)>`.
 */
async function phase ({ rounds, stop, jobs, describe }) {
  const rows = []
  let roundsDone = 0
  let longest = 0
  let cut = false
  for (let round = 1; round <= rounds; round++) {
    const reason = stop(round, longest)
    if (reason !== undefined) {
      cut = true
      log(reason)
      break
    }
    const roundStart = Date.now()
    roundsDone = round
    for (const { row, label, run } of jobs(round)) {
      try {
        const result = await run()
        rows.push({ ...row, ...result })
        log(`${label}: ${describe(result)}`)
      } catch (error) {
        rows.push({ ...row, error: error.message.split('\n')[0], load: os.loadavg()[0] })
        log(`${label}: FAILED ${error.message}`)
      }
    }
    longest = Math.max(longest, Date.now() - roundStart)
  }
  return { rows, roundsDone, cut }
}

/**
 * The broadcast rounds: in each, every size, every variant in a new (seeded)
 * order, `once(variant, n)`. `stop` and `describe` as for phase().
 */
export function broadcastRounds ({ name, rounds, sizes, variants, once, stop, describe }) {
  return phase({
    rounds,
    stop,
    // A new order every round (seeded, so a run can be repeated): no variant always runs first or after the same one.
    jobs: (round) => sizes.flatMap((n) => shuffled(variants, round * 1000 + n).map((variant) => ({
      row: { n, variant: variant.id, round },
      label: `${name} N=${n} ${variant.id} round ${round}`,
      run: () => once(variant, n)
    }))),
    describe: (result) => `${describe(result)}${result.complete ? '' : ` INCOMPLETE ${result.received}/${result.expected}`}`
  })
}

/** The idle memory rounds: in each, every variant, in the order `order(variants, round)`, `once(variant)`. */
export function idleRounds ({ rounds, variants, order, once, stop, describe }) {
  return phase({
    rounds,
    stop,
    jobs: (round) => order(variants, round).map((variant) => ({
      row: { variant: variant.id, round },
      label: `idle ${variant.id} round ${round}`,
      run: () => once(variant)
    })),
    describe
  })
}

/** The median of each of `keys` over `rows`. */
export function medians (rows, keys) {
  return Object.fromEntries(keys.map((key) => [key, median(rows.map((row) => row[key]))]))
}

/**
 * Medians over rounds per group (a size, an in-flight count) and variant,
 * with the range (min, max) of every key, and for each of `ratios`
 * (`{ name: [field, baseline id] }`) the median and range of the same-round
 * ratios of `field` to the baseline's (same machine load). Incomplete rounds
 * count with what arrived (their rate is what it is); failed ones not at all.
 */
export function roundMedians (rows, { groups, variants, keys, ratios }) {
  const out = {}
  for (const n of groups) {
    out[n] = {}
    for (const variant of variants) {
      const mine = rows.filter((row) => row.n === n && row.variant === variant.id && row.error === undefined)
      if (mine.length === 0) continue
      const entry = { rounds: mine.length, completeRounds: mine.filter((row) => row.complete).length }
      for (const key of keys) {
        const values = mine.map((row) => row[key]).filter(Number.isFinite)
        entry[key] = median(values)
        entry[`${key}Range`] = values.length === 0 ? [NaN, NaN] : [Math.min(...values), Math.max(...values)]
      }
      for (const [name, [field, baseline]] of Object.entries(ratios)) {
        const same = mine.map((row) => {
          const other = rows.find((candidate) => candidate.n === n && candidate.variant === baseline && candidate.round === row.round && candidate.error === undefined)
          return other === undefined ? NaN : row[field] / other[field]
        }).filter(Number.isFinite)
        entry[name] = median(same)
        entry[`${name}Range`] = same.length === 0 ? [NaN, NaN] : [Math.min(...same), Math.max(...same)]
      }
      out[n][variant.id] = entry
    }
  }
  return out
}

/**
 * `roundMedians()` of a broadcast bench: per size, the same-round ratios
 * (`{ name: baseline id }`) are of deliveries/s.
 */
export function broadcastMedians (rows, { sizes, variants, ratios, keys }) {
  const deliveries = Object.fromEntries(Object.entries(ratios).map(([name, baseline]) => [name, ['deliveriesPerSec', baseline]]))
  return roundMedians(rows, { groups: sizes, variants, keys, ratios: deliveries })
}

/** The idle rounds (`all`) and, per variant that has any that did not fail, the medians of `keys`. */
export function idleMedians (rows, { variants, keys }) {
  const out = { all: rows }
  for (const variant of variants) {
    const mine = rows.filter((row) => row.variant === variant.id && row.error === undefined)
    if (mine.length > 0) out[variant.id] = medians(mine, keys)
  }
  return out
}

/**
 * A bench's idle phase: `rounds` rounds of `count` idle connections per
 * variant (`harness.idleOnce`), then the medians of `keys`; `idle` is null
 * when the phase is off (`count` or `rounds` 0). Each round is logged with
 * its bytes per `noun`.
 * @example const { idle, roundsDone, cut } = await idlePhase(harness, { count: IDLE, rounds: IDLE_ROUNDS, variants, order: shuffled, stop, noun: 'connection', keys })
 */
export async function idlePhase (harness, { count, rounds, variants, order, stop, noun, keys }) {
  if (!(count > 0 && rounds > 0)) return { idle: null, rows: [], roundsDone: 0, cut: false }
  const phase = await idleRounds({
    rounds,
    variants,
    order,
    once: (variant) => harness.idleOnce(variant, count),
    stop,
    describe: (result) => `${fmt(result.rssPerConn)} B RSS, ${fmt(result.heapPerConn)} B heap per ${noun}${result.connectMs === undefined ? '' : ` (connect ${fmt(result.connectMs)} ms, load ${result.load.toFixed(1)})`}`
  })
  return { idle: idleMedians(phase.rows, { variants, keys }), rows: phase.rows, roundsDone: phase.roundsDone, cut: phase.cut }
}

// ---------------------------------------------------------------- the record

/**
 * What a run records about the machine and the code: Node, CPUs, memory, OS,
 * the commit (and whether src/ or plugins/ differed from it), the versions of
 * fastify-datastar and of `packages` (from node_modules).
 */
export function environment (packages) {
  const version = (file) => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')).version
    } catch {
      return undefined
    }
  }
  // Read-only git queries.
  const git = (...gitArgs) => {
    const result = spawnSync('git', gitArgs, { cwd: root, encoding: 'utf8' })
    return result.status === 0 ? result.stdout.trim() : undefined
  }
  const commit = git('rev-parse', '--short', 'HEAD')
  const dirty = git('status', '--porcelain', '--', 'src', 'plugins')
  return {
    node: process.versions.node,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    commit: commit === undefined ? undefined : `${commit}${dirty === '' ? '' : ' + uncommitted changes in src/ or plugins/'}`,
    versions: {
      'fastify-datastar': version(path.join(root, 'package.json')),
      ...Object.fromEntries(packages.map((name) => [name, version(path.join(root, 'node_modules', name, 'package.json'))]))
    }
  }
}

/**
 * The files beside the report `out`: a RESULTS.md has the bench's chart
 * `svgName` and results.json; any other name (`--out bench/x/OTHER.md`) its
 * own OTHER.svg and OTHER.json, so a side run never overwrites the reference
 * run's data or chart.
 */
function outputNames (out, svgName) {
  const file = path.resolve(out)
  const dir = path.dirname(file)
  if (path.basename(file) === 'RESULTS.md') return { file, svgName, jsonFile: path.join(dir, 'results.json') }
  const stem = path.basename(file, path.extname(file))
  return { file, svgName: `${stem}.svg`, jsonFile: path.join(dir, `${stem}.json`) }
}

/**
 * Writes the report (at `out`), its chart beside it, and the data as JSON to
 * `jsonFile` (unless rendering again); names from outputNames().
 * `render(data, { svgName })` gives `{ markdown, svg }`.
 */
async function writeOutputs ({ data, out, svgName: defaultSvgName, render, jsonFile }) {
  const { file, svgName } = outputNames(out, defaultSvgName)
  await mkdir(path.dirname(file), { recursive: true })
  if (jsonFile !== undefined) await writeFile(jsonFile, JSON.stringify(data, null, 2) + '\n')
  const { markdown, svg } = render(data, { svgName })
  await writeFile(path.join(path.dirname(file), svgName), svg)
  await writeFile(file, markdown)
  log(`wrote ${path.relative(root, file)} and ${svgName}${jsonFile === undefined ? '' : ` (data: ${path.relative(root, jsonFile)})`}`)
}
