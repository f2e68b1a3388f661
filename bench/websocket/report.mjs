// Renders bench/websocket's results (results.json) as RESULTS.md and
// websocket.svg. Everything shown comes from the results data, so a run can be
// rendered again (`node bench/websocket/run.mjs --render bench/websocket/results.json`).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Chart, fmt, heapSection, idleRoundColumns, median, medianColumns, nameOf, readFileSafe, roundColumns, table, unavailableSection } from '../common/report.mjs'
import { variantById } from './variants.mjs'

export { fmt, median }

const here = path.dirname(fileURLToPath(import.meta.url))

/** The targets: ours against raw-ws and socket.io in deliveries/s, and idle RSS per client against raw-ws. */
export const TARGETS = { vsRaw: 0.9, vsSocketIo: 1.2, memory: 1.2 }
// Above this share of the burst on its CPU, the client process is (close to) the bottleneck.
const CLIENT_BOUND = 0.9

/** The variants to show: those measured, and the selected ones that were not available (as empty rows). */
function shown (data, ids) {
  const extra = (data.selected ?? []).filter((id) => !ids.includes(id) && data.unavailable?.[id] !== undefined)
  return [...ids, ...extra].map(variantById)
}

function chart (data) {
  const { fanout, idle, events: EVENTS, idleConnections: IDLE } = data
  const figure = new Chart()
  const missing = (variant) => data.unavailable?.[variant.id] !== undefined ? 'not available' : undefined
  if (Object.keys(fanout).length > 0) {
    const perSize = (spec) => figure.addPerSize({ fanout, variants: shown(data, data.variants), baseline: 'raw-ws', missing, ...spec })
    perSize({
      title: 'Deliveries per second, × raw ws (medians over rounds)',
      pick: (r, raw) => r?.deliveriesPerSec / raw?.deliveriesPerSec,
      format: (v) => v.toFixed(2) + '×',
      references: [{ value: TARGETS.vsRaw, label: `target ${TARGETS.vsRaw}×` }]
    })
    perSize({ title: `Deliveries per second (${EVENTS} text messages of ~200 B to each of N clients)`, pick: (r) => r?.deliveriesPerSec, format: (v) => fmt(v) })
    perSize({ title: 'Server CPU µs per delivery, user + system (lower is better; the measure other load disturbs least)', pick: (r) => r?.serverCpuUsPerDelivery, format: (v) => fmt(v, 2) })
    perSize({ title: 'p99 latency, ms, from each message\'s send time (broadcast call → message read by the client)', pick: (r) => r?.p99Ms, format: (v) => fmt(v, 1) })
    perSize({ title: 'p99 latency, ms, from the start of the burst (waiting behind earlier messages included)', pick: (r) => r?.burstP99Ms, format: (v) => fmt(v, 1) })
  }
  if (idle !== null) {
    figure.addIdle({
      title: `Idle memory per client, bytes (${fmt(IDLE)} connections, after GC)`,
      idle,
      variants: shown(data, data.idleVariants),
      missing,
      references: [{ value: idle['raw-ws']?.rssPerConn * TARGETS.memory, label: `target: ${TARGETS.memory}× raw ws RSS` }]
    })
  }
  return figure.svg()
}

/** A ratio for a verdict: two decimals, three when two would round onto the threshold (1.199 is not 1.20). */
function ratioText (ratio, threshold) {
  const two = ratio.toFixed(2)
  return Number(two) === threshold && ratio !== threshold ? ratio.toFixed(3) : two
}

/** How much the baseline itself moved between rounds, per N (the noise any ratio here carries). */
export function noise (data) {
  const lines = []
  const loads = [...data.fanoutRounds, ...(data.idle?.all ?? [])].map((row) => row.load).filter(Number.isFinite)
  for (const n of Object.keys(data.fanout).map(Number)) {
    const raw = data.fanoutRounds.filter((row) => row.n === n && row.variant === 'raw-ws' && row.error === undefined).map((row) => row.deliveriesPerSec)
    if (raw.length < 2) continue
    lines.push(`N = ${fmt(n)}: ${fmt(Math.min(...raw))} to ${fmt(Math.max(...raw))} deliveries/s (${fmt(100 * (Math.max(...raw) - Math.min(...raw)) / median(raw))} % of its median)`)
  }
  if (lines.length === 0) return []
  return [`_Noise: raw ws alone, the same code every round, ranged ${lines.join('; ')}, with a 1-minute load average of ${fmt(median(loads), 1)} (median; ${fmt(Math.max(...loads), 1)} at most) on 2 vCPUs. Ratios closer to a threshold than that spread are ties, not verdicts; the same-round ratios and server CPU per delivery, given with each, are the steadier measures._`, '']
}

const TWO_NODES = 'fastify-datastar-2-nodes'

/**
 * The two-node row against one node (issue #13 asks for the row, and sets no
 * threshold for it): the numbers, per N, or why there are none.
 */
function twoNodeLines (data) {
  if (!(data.selected ?? []).includes(TWO_NODES)) return []
  if (data.unavailable?.[TWO_NODES] !== undefined) return [`- Broadcast on two nodes: **not measured**, the row was not available in this run (\`${data.unavailable[TWO_NODES]}\`).`]
  const lines = []
  for (const n of Object.keys(data.fanout).map(Number)) {
    const two = data.fanout[n][TWO_NODES]
    const one = data.fanout[n]['fastify-datastar']
    if (two === undefined || one === undefined) {
      lines.push(`- N = ${fmt(n)}, broadcast on two nodes: no ${two === undefined ? 'two-node' : 'one-node'} result (see the rounds table).`)
      continue
    }
    lines.push(`- N = ${fmt(n)}, broadcast on two nodes (N/2 clients on each, one redis-server, every message from node A) against one node, deliveries/s (no threshold set; issue #13 asks for the row): ${fmt(two.deliveriesPerSec)} vs ${fmt(one.deliveriesPerSec)} = ${(two.deliveriesPerSec / one.deliveriesPerSec).toFixed(2)}× (median of the same-round ratios: **${fmt(two.roundRatioOneNode, 2)}×**, ${fmt(two.roundRatioOneNodeRange[0], 2)}–${fmt(two.roundRatioOneNodeRange[1], 2)} over ${two.rounds} rounds); ` +
      `p99 ${fmt(two.p99Ms, 1)} ms vs ${fmt(one.p99Ms, 1)} ms; server CPU per delivery ${fmt(two.serverCpuUsPerDelivery, 2)} µs for both nodes vs ${fmt(one.serverCpuUsPerDelivery, 2)} µs, redis-server ${fmt(two.redisCpuUsPerDelivery, 2)} µs; client busy ${fmt(100 * two.clientBusy)} % vs ${fmt(100 * one.clientBusy)} %.` +
      (two.completeRounds < two.rounds ? ` **${two.rounds - two.completeRounds} of ${two.rounds} rounds incomplete** (a client short of messages).` : ''))
  }
  return lines
}

/** The targets, each met or MISSED, with the numbers (or why they could not be judged); then the two-node row. */
export function verdicts (data) {
  return [...targetLines(data), ...twoNodeLines(data)]
}

function targetLines (data) {
  const { fanout, idle } = data
  const lines = []
  const mark = (ok) => ok ? '**met**' : '**MISSED**'
  const oursMissing = data.unavailable?.['fastify-datastar']
  if (oursMissing !== undefined && (data.selected ?? []).includes('fastify-datastar')) {
    lines.push(`- fastify-datastar was **not available** in this run (its server did not start: \`${oursMissing}\`), so no target could be judged. Run \`npm run bench:websocket\` once \`dist/plugins/websocket.js\` builds.`)
    return lines
  }
  for (const n of Object.keys(fanout).map(Number)) {
    const results = fanout[n]
    const ours = results['fastify-datastar']
    if (ours === undefined) {
      if (data.variants.includes('fastify-datastar')) lines.push(`- N = ${fmt(n)}: no fastify-datastar result (every round failed, see the rounds table).`)
      continue
    }
    const raw = results['raw-ws']
    if (raw !== undefined) {
      const ratio = ours.deliveriesPerSec / raw.deliveriesPerSec
      lines.push(`- N = ${fmt(n)}, deliveries/s ≥ ${TARGETS.vsRaw}× raw ws: ${mark(ratio >= TARGETS.vsRaw)} — ${fmt(ours.deliveriesPerSec)} vs ${fmt(raw.deliveriesPerSec)} = **${ratioText(ratio, TARGETS.vsRaw)}×** (median of the same-round ratios: ${fmt(ours.roundRatio, 2)}×; ` +
        `server CPU per delivery, which other load on the machine disturbs less: ${fmt(ours.serverCpuUsPerDelivery, 2)} µs vs ${fmt(raw.serverCpuUsPerDelivery, 2)} µs, raw ws needs ${(raw.serverCpuUsPerDelivery / ours.serverCpuUsPerDelivery).toFixed(2)}× ours).`)
    }
    const sio = results['socket.io']
    if (sio !== undefined) {
      const ratio = ours.deliveriesPerSec / sio.deliveriesPerSec
      const bound = sio.clientBusy >= CLIENT_BOUND
      const diag = results['socket.io-frames']
      lines.push(`- N = ${fmt(n)}, deliveries/s ≥ ${TARGETS.vsSocketIo}× socket.io: ${mark(ratio >= TARGETS.vsSocketIo)} — ${fmt(ours.deliveriesPerSec)} vs ${fmt(sio.deliveriesPerSec)} = **${ratioText(ratio, TARGETS.vsSocketIo)}×** (median of the same-round ratios: ${fmt(ours.roundRatioSocketIo, 2)}×)` +
        (bound ? `; socket.io-client kept its process busy ${fmt(100 * sio.clientBusy)} % of the burst, so this is partly a client limit` : '') +
        (diag === undefined ? '' : `; against the socket.io server read by the minimal frame client (diagnostic, ${fmt(diag.deliveriesPerSec)}/s): ${(ours.deliveriesPerSec / diag.deliveriesPerSec).toFixed(2)}×`) +
        `; server CPU per delivery: ${fmt(ours.serverCpuUsPerDelivery, 2)} µs vs ${fmt(sio.serverCpuUsPerDelivery, 2)} µs, socket.io needs ${(sio.serverCpuUsPerDelivery / ours.serverCpuUsPerDelivery).toFixed(2)}× ours.`)
    }
  }
  if (idle !== null && idle['raw-ws'] !== undefined && idle['fastify-datastar'] !== undefined) {
    const ours = idle['fastify-datastar']
    const raw = idle['raw-ws']
    const ratio = ours.rssPerConn / raw.rssPerConn
    lines.push(`- Idle memory per client ≤ ${TARGETS.memory}× raw ws: ${mark(ratio <= TARGETS.memory)} — ${fmt(ours.rssPerConn)} B vs ${fmt(raw.rssPerConn)} B of RSS = **${ratioText(ratio, TARGETS.memory)}×** (V8 heap: ${fmt(ours.heapPerConn)} B vs ${fmt(raw.heapPerConn)} B = ${(ours.heapPerConn / raw.heapPerConn).toFixed(2)}×).`)
  }
  return lines
}

function report (data, svgName) {
  const { fanout, fanoutRounds, idle, idleRounds, startedAt, finishedAt, cut, events: EVENTS, idleConnections: IDLE } = data
  const FANOUT_VARIANTS = data.variants.map(variantById)
  const twoNodes = FANOUT_VARIANTS.some((variant) => (variant.nodes ?? 1) > 1)
  const IDLE_VARIANTS = data.idleVariants.map(variantById)
  const version = (name) => data.versions?.[name] ?? '?'
  const loads = [...fanoutRounds, ...(idle?.all ?? [])].map((row) => row.load).filter(Number.isFinite)
  const out = []
  out.push('# WebSocket broadcast and idle memory: results', '')
  out.push('fastify-datastar\'s WebSocket plugin (`app.register(websocket, { heartbeat: false, origins: false })`, every client in the one instance of',
    '`app.resource(\'/bench\', {})`, broadcast with `instance.broadcast(text)`: encoded and framed once, the frame written to every socket) side by side with a bare `ws` server,',
    'Fastify + @fastify/websocket and socket.io, all broadcasting the same ~200 B text messages over WebSocket on 127.0.0.1, measured in one run.', '')
  out.push('_This file is written by `bench/websocket/run.mjs`; the notes at the end are kept in `bench/websocket/NOTES.md` and copied in._', '')
  out.push('## Command', '', '```sh', 'npm run bench:websocket   # = npm run build && node bench/websocket/run.mjs', `${data.command}   # this run`, '```', '')
  const unavailable = Object.entries(data.unavailable ?? {})
  out.push(...unavailableSection(data.unavailable, variantById))
  out.push('## Setup', '')
  out.push(`- Machine: ${data.cpus} cores (${data.cpuModel}), ${data.memGiB} GiB, ${data.os}; Node ${data.node}. A shared VM: other work may run beside the bench, so the 1-minute load average is recorded at every round (2 would be this bench alone: server and client each on a core). During the run: median ${fmt(median(loads), 1)}, highest ${fmt(Math.max(...loads), 1)}.`)
  out.push(`- Versions: ws ${version('ws')}; @fastify/websocket ${version('@fastify/websocket')}; fastify ${version('fastify')}; socket.io ${version('socket.io')}; socket.io-client ${version('socket.io-client')}; fastify-datastar ${version('fastify-datastar')} (dist/${data.commit === undefined ? '' : `, built from ${data.commit}`}).`)
  out.push(`- Each server variant runs in its own process (\`bench/websocket/servers/*.mjs\`, \`node --expose-gc\`)${data.pinned ? ', pinned to CPU 0 with `taskset`' : ''}; the load generator (\`bench/websocket/client.mjs\`) is one other process${data.pinned ? ', pinned to CPU 1' : ''}; run.mjs only orchestrates over IPC. Every process may open ${fmt(data.fdsPerProcess)} files (\`ulimit -n\`, raised by run.mjs through \`sh -c 'ulimit -n …'\` up to the hard limit; it stops at once if the hard limit is below the largest of --n / --idle + 1,024).`,
    '- **Clients.** For the ws-based servers (raw ws, @fastify/websocket, fastify-datastar) the client is a minimal WebSocket client of its own: plain TCP sockets, a hand-written upgrade (no permessage-deflate offered, so none is used), the server\'s unmasked frames decoded from one shared read buffer, a message counted when its text has been read. For **socket.io** it is socket.io-client with `transports: [\'websocket\']` (no polling), one Manager per socket (`forceNew`), a listener on `\'m\'`: socket.io\'s own Engine.IO and socket.io framing (`42["m","…"]`) decoded by socket.io\'s own code; a delivery is counted the same way, when the listener has the text. Because socket.io-client costs much more per message than the minimal client, the **diagnostic** row (in italics) measures the same socket.io server read by the minimal client, which speaks Engine.IO 4 / socket.io 5 itself (CONNECT, pong): the server\'s own capacity.',
    `- **Broadcast**: per variant and N, a fresh server and client; N clients connected; one warm-up burst of ${data.warmupEvents ?? 10} messages; then one measured burst of ${EVENTS} text messages of ~200 B (one broadcast per macrotask, \`setImmediate\` between them; each message carries the round, its sequence number, the burst start and its send time, µs of the monotonic clock all processes share). **Deliveries/s** = N × ${EVENTS} / (time from the first send until the client process has read the last message). **p50/p99** over all N × ${EVENTS} deliveries from each message's send time (stamped when its broadcast call begins); since each broadcast waits for the previous one, a slow broadcast also stamps later messages late, so the latency **from the burst start** is given too. **Server CPU** = server process user + system time during the measured burst / deliveries; **client busy** = client process CPU time / burst span (near 100 %: the client is the bottleneck). The variants take turns within each round (a new, seeded order each round); medians over ${data.roundsDone ?? data.rounds} rounds (of ${data.rounds} asked).`,
    ...(twoNodes
      ? [`- **Two nodes** (issue #13; broadcast only, \`fastify-datastar-2-nodes\`): per N, a fresh \`redis-server\` (\`bench/common/redis.mjs\`: a free port of 127.0.0.1, no persistence) and two processes of the fastify-datastar server, each \`app.register(websocket, { heartbeat: false, origins: false, backplane: new RedisBackplane({ redis }) })\`; N/2 clients connect to each, all in the one room \`/bench\`; each node waited for until it lists both and its room hears the other's broadcasts (\`route.ready()\`); every broadcast is \`instance.broadcast(text)\` on the first node (node A): its own clients at once, node B's through Redis Pub/Sub. Deliveries/s as above, until the last client on either node has read the last message. ${data.pinned ? 'Both nodes and redis-server are pinned to CPU 0, the client to CPU ' + (data.clientCpus ?? '1') + ': the CPU one node gets, so the ratio to one node is what crossing Redis costs, not what a second core adds.' : 'Not pinned.'} Compared with the one-node fastify-datastar row **of the same round**; server CPU is both nodes' together, redis-server's (from /proc, 10 ms ticks) apart.`]
      : []),
    `- **Idle memory**: per variant, a fresh server; 200 clients connected and disconnected (warm-up); GC; baseline; ${fmt(IDLE)} idle clients connected and counted by the server; 0.5 s; GC; growth of RSS and V8 heapUsed / ${fmt(IDLE)}. No heartbeat in the ws-based variants; socket.io keeps its default (a ping every 25 s, a timer per socket), part of what it costs. Median of ${idleRounds} rounds, run before the broadcast rounds.`,
    '- Variants: **raw ws** `new WebSocketServer({ server, path })` on node:http, `for (const c of wss.clients) c.send(buf, { binary: false })` with `buf = Buffer.from(text)` once per broadcast; **@fastify/websocket** a `{ websocket: true }` route, the sockets in a `Set`, the same loop; **socket.io** `socket.join(\'bench\')` on connection, `io.to(\'bench\').emit(\'m\', text)` (socket.io encodes the packet and, without compression, the WebSocket frame once per emit); **fastify-datastar** `instance.broadcast(text)`. No variant compresses.',
    ...(data.idleVariants.includes('fastify-datastar-core') || data.variants.includes('fastify-datastar-core') || (data.heap ?? []).some((diff) => diff.variant === 'fastify-datastar-core')
      ? ['- Diagnostic **resource layer, no Fastify** (`fastify-datastar-core`, in italics; not a peer, not held to the targets; idle memory by default): a bare `ws` WebSocketServer on node:http as in raw ws, whose `\'connection\'` handler calls `route.accept({ socket, request: undefined, name: \'/bench\', data: {} })` on a `ResourceRoute` of `dist/src/websocket/resource-route.js` (`resolveResourceOptions({ heartbeat: false })`), broadcast with `route.get(\'/bench\').broadcast(text)`: fastify-datastar\'s resource layer without Fastify, and so without the Fastify request that `client.request` keeps for the upgrade\'s lifetime.']
      : []),
    '')
  out.push(`Run from ${startedAt} to ${finishedAt} (${fmt(data.minutes, 1)} min, time limit ${data.timeLimitMinutes} min).${cut ? ' **The time limit cut the run short: fewer rounds than asked (see the round counts).**' : ''}`, '')

  for (const n of Object.keys(fanout).map(Number)) {
    const results = fanout[n]
    const raw = results['raw-ws']
    out.push(`## Broadcast, N = ${fmt(n)} clients × ${EVENTS} messages`, '')
    const c = medianColumns
    const oneNode = ['× one node, same round', 'r', ({ variant, r }) => (variant.nodes ?? 1) > 1 ? fmt(r.roundRatioOneNode, 2) : '—']
    out.push(...table([c.server, c.deliveries, c.ratio('× raw ws'), c.roundRatio('× raw ws, same round'), ...(twoNodes ? [oneNode] : []), c.p50, c.p99, c.burstP50, c.burstP99, c.serverCpu, c.clientCpu, c.clientBusy, c.rounds],
      FANOUT_VARIANTS.map((variant) => results[variant.id] === undefined ? `| ${nameOf(variant)} | failed |${' |'.repeat(twoNodes ? 10 : 9)} 0 |` : { variant, r: results[variant.id], base: raw })))
    for (const [id] of unavailable) if (!FANOUT_VARIANTS.some((v) => v.id === id) && (data.selected ?? []).includes(id)) out.push(`| ${nameOf(variantById(id))} | not available |${' |'.repeat(twoNodes ? 11 : 10)}`)
    out.push('')
  }
  if (idle !== null) {
    out.push(`## Idle memory, ${fmt(IDLE)} clients`, '')
    out.push('| server | RSS B / client | × raw ws | V8 heap B / client | × raw ws | external B / client | RSS before → after (MiB) |')
    out.push('|---|---:|---:|---:|---:|---:|---|')
    const base = idle['raw-ws']
    for (const variant of IDLE_VARIANTS) {
      const r = idle[variant.id]
      if (r === undefined) {
        out.push(`| ${nameOf(variant)} | failed | | | | | |`)
        continue
      }
      out.push(`| ${nameOf(variant)} | ${fmt(r.rssPerConn)} | ${fmt(r.rssPerConn / base?.rssPerConn, 2)} | ${fmt(r.heapPerConn)} | ${fmt(r.heapPerConn / base?.heapPerConn, 2)} | ${fmt(r.externalPerConn)} | ${fmt(r.rssBefore / 2 ** 20, 1)} → ${fmt(r.rssAfter / 2 ** 20, 1)} |`)
    }
    for (const [id] of unavailable) if (!IDLE_VARIANTS.some((v) => v.id === id) && (data.selected ?? []).includes(id)) out.push(`| ${nameOf(variantById(id))} | not available | | | | | |`)
    out.push('')
  }
  out.push('## Chart', '', `![broadcast and idle memory](${svgName})`, '')
  out.push('## Targets', '', ...noise(data), ...verdicts(data), '')

  if ((data.heap ?? []).length > 0) {
    out.push(...heapSection({
      heap: data.heap,
      noun: 'client',
      intro: `V8 heap snapshot after GC with ${fmt(data.heapN)} idle clients minus the one before them, per client, by object type and constructor (self sizes; RSS also holds what V8 does not see: libuv handles, stream buffers, malloc overhead). From \`--heap-diff\`.`,
      labelOf: (id) => variantById(id).label
    }))
  }
  out.push(...memorySteps(data))
  const notes = readFileSafe(path.join(here, 'NOTES.md'))
  if (notes !== null) out.push(notes.trim(), '')

  out.push('## Every round', '')
  const c = roundColumns
  out.push(...table([c.n, c.server, c.round, c.deliveries, c.p50, c.p99, c.max, c.burstP99, c.serverCpu, c.clientCpu, c.clientBusy, c.publish('broadcast loop ms'), c.connect, c.load, c.complete], fanoutRounds), '')
  if (idleRounds > 0) {
    const i = idleRoundColumns('client')
    out.push(...table([i.server, i.round, i.rss, i.heap, i.rssMoved, i.connect, i.load], idle?.all ?? []), '')
  }
  return out.join('\n')
}

/** `bytes` with its sign, for a difference. */
const signed = (bytes, digits = 0) => (bytes < 0 ? '−' : '+') + fmt(Math.abs(bytes), digits)

/**
 * The differences, per client, between variants' idle memory: the medians (RSS
 * and V8 heap) and, when both have a heap snapshot diff, its total and the
 * three (type: constructor) keys that differ most. Only numbers of the run.
 */
function memorySteps (data) {
  const { idle } = data
  const heap = new Map((data.heap ?? []).map((diff) => [diff.variant, diff]))
  const steps = [
    ['raw-ws', 'fastify-websocket', '@fastify/websocket alone vs raw ws'],
    ['fastify-websocket', 'fastify-datastar', 'what fastify-datastar adds on top of @fastify/websocket'],
    ['raw-ws', 'fastify-datastar-core', 'the core-only diagnostic (resource layer, no Fastify) vs raw ws'],
    ['fastify-datastar-core', 'fastify-datastar', 'fastify-datastar vs the core-only diagnostic']
  ]
  const lines = []
  for (const [from, to, what] of steps) {
    const a = idle?.[from]
    const b = idle?.[to]
    const ha = heap.get(from)
    const hb = heap.get(to)
    if ((a === undefined || b === undefined) && (ha === undefined || hb === undefined)) continue
    const parts = []
    if (a !== undefined && b !== undefined) {
      parts.push(`idle medians ${signed(b.rssPerConn - a.rssPerConn)} B RSS, ${signed(b.heapPerConn - a.heapPerConn)} B V8 heap (${fmt(b.rssPerConn)} vs ${fmt(a.rssPerConn)} B RSS, ${fmt(b.heapPerConn)} vs ${fmt(a.heapPerConn)} B heap)`)
    }
    if (ha !== undefined && hb !== undefined) {
      const before = new Map(ha.rows.map((row) => [row.key, row]))
      const after = new Map(hb.rows.map((row) => [row.key, row]))
      const keys = [...new Set([...before.keys(), ...after.keys()])].map((key) => ({
        key,
        bytes: (after.get(key)?.bytes ?? 0) - (before.get(key)?.bytes ?? 0),
        objects: (after.get(key)?.objects ?? 0) - (before.get(key)?.objects ?? 0)
      })).sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes)).slice(0, 3)
      parts.push(`heap snapshots ${signed(hb.totalBytes - ha.totalBytes)} B (${fmt(hb.totalBytes)} vs ${fmt(ha.totalBytes)} B), the largest differences: ${keys.map((k) => `\`${k.key}\` ${signed(k.bytes)} B (${signed(k.objects, 2)} objects)`).join(', ')}`)
    }
    lines.push(`- **${what}**: ${parts.join('; ')}.`)
  }
  if (lines.length === 0) return []
  return ['## Where the memory goes', '',
    `Per idle client, the second variant of each pair minus the first: in the medians of the idle rounds (${fmt(data.idleConnections)} clients, the table above)${heap.size === 0 ? '' : ` and in the heap snapshot diffs (${fmt(data.heapN)} clients, \`--heap-diff\`), with the three (type: constructor) keys whose bytes differ most`}. Differences of measurements of this run; RSS moves in pages and is noisier than the heap.`, '',
    ...lines, '']
}

/** RESULTS.md and websocket.svg of a run's data. */
export function render (data, { svgName = 'websocket.svg' } = {}) {
  return { markdown: report(data, svgName), svg: chart(data) }
}
