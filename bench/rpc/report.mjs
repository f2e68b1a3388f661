// Renders bench/rpc's results (results.json) as RESULTS.md and rpc.svg.
// Everything shown comes from the results data, so a run can be rendered
// again (`node bench/rpc/run.mjs --render bench/rpc/results.json`).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Chart, fmt, idleRoundColumns, median, nameOf, readFileSafe, table, unavailableSection } from '../common/report.mjs'
import { variantById } from './variants.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

/**
 * Issue #12's targets: round-trip p50 against raw ws, callAll results/s against socket.io, idle RSS against raw ws;
 * issue #13's: callAll over two nodes' sessions against one node's, results/s.
 */
export const TARGETS = { p50VsRaw: 1.2, callAllVsSocketIo: 2, memory: 1.5, twoNodesVsOne: 0.7 }

/** The variants of the round trips and idle memory: one node each (older runs: all of them). */
const oneNodeIds = (data) => data.oneNodeVariants ?? data.variants

const range = ([low, high], digits = 2) => Number.isFinite(low) ? `${fmt(low, digits)}–${fmt(high, digits)}` : '—'
const mark = (ok) => ok ? '**met**' : '**MISSED**'
// Said after a verdict whose same-round ratios fall on both sides of the threshold.
const straddles = ([low, high], threshold) => low <= threshold && threshold <= high
  ? ` **Within the noise**: the same-round ratios fall on both sides of ${threshold}× (${fmt(low, 2)}–${fmt(high, 2)}).`
  : ''

/** A ratio for a verdict: two decimals, three when two would round onto the threshold. */
function ratioText (ratio, threshold) {
  const two = ratio.toFixed(2)
  return Number(two) === threshold && ratio !== threshold ? ratio.toFixed(3) : two
}

function chart (data) {
  const figure = new Chart()
  const rows = (pick, ids = oneNodeIds(data)) => ids.map(variantById).map((variant) => ({ label: variant.short, ours: variant.ours === true, values: pick(variant) }))
  const perInFlight = (title, key, digits) => figure.add({
    title,
    series: data.inFlight.map((k) => ({ key: k, label: `${k} in flight` })),
    rows: rows((variant) => Object.fromEntries(data.inFlight.map((k) => [k, data.rtt[k]?.[variant.id]?.[key]]))),
    format: (v) => fmt(v, digits)
  })
  perInFlight('Round trips per second, one session (medians over rounds)', 'perSec', 0)
  perInFlight('Round-trip p50, µs (call → result, timed by the server)', 'p50Us', 0)
  perInFlight('Round-trip p99, µs', 'p99Us', 0)
  figure.add({
    title: 'Calls to all: results per second (N / time until every result, median call)',
    series: data.sizes.map((n) => ({ key: n, label: `N = ${fmt(n)}` })),
    rows: rows((variant) => Object.fromEntries(data.sizes.map((n) => [n, data.callAll[n]?.[variant.id]?.resultsPerSec])), data.variants),
    format: (v) => fmt(v)
  })
  if (data.idle !== null) {
    figure.addIdle({
      title: `Idle memory per page, bytes (${fmt(data.idleConnections)} pages, after GC)`,
      idle: data.idle,
      variants: oneNodeIds(data).map(variantById),
      references: [{ value: data.idle['raw-ws']?.rssPerConn * TARGETS.memory, label: `target: ${TARGETS.memory}× raw ws RSS` }]
    })
  }
  return figure.svg()
}

/** How much the baselines themselves moved between rounds (the noise any ratio here carries). */
export function noise (data) {
  const parts = []
  for (const k of data.inFlight) {
    const raw = data.rttRounds.filter((row) => row.n === k && row.variant === 'raw-ws' && row.error === undefined).map((row) => row.p50Us)
    if (raw.length >= 2) parts.push(`raw ws p50 with ${k} in flight ${fmt(Math.min(...raw))} to ${fmt(Math.max(...raw))} µs (${fmt(100 * (Math.max(...raw) - Math.min(...raw)) / median(raw))} % of its median)`)
  }
  for (const n of data.sizes) {
    const sio = data.callRounds.filter((row) => row.n === n && row.variant === 'socket.io' && row.error === undefined).map((row) => row.resultsPerSec)
    if (sio.length >= 2) parts.push(`socket.io's calls to ${fmt(n)} pages ${fmt(Math.min(...sio))} to ${fmt(Math.max(...sio))} results/s (${fmt(100 * (Math.max(...sio) - Math.min(...sio)) / median(sio))} %)`)
  }
  const loads = [...data.rttRounds, ...data.callRounds, ...(data.idle?.all ?? [])].map((row) => row.load).filter(Number.isFinite)
  if (parts.length === 0) return []
  return [`_Noise: the baselines alone, the same code every round, ranged ${parts.join('; ')}, with a 1-minute load average of ${fmt(median(loads), 1)} (median; ${fmt(Math.max(...loads), 1)} at most) on ${data.cpus} vCPUs. A ratio closer to its threshold than that spread is a tie, not a verdict; the same-round ratios (with their range over rounds) are the steadier measure._`, '']
}

/** The targets, each met or MISSED, with the numbers (or why they could not be judged). */
export function verdicts (data) {
  const lines = []
  const oursMissing = data.unavailable?.['fastify-datastar']
  if (oursMissing !== undefined) {
    lines.push(`- fastify-datastar was **not available** in this run (its server did not start: \`${oursMissing}\`), so no target could be judged. Run \`npm run bench:rpc\` (it builds dist/ first).`)
    return lines
  }
  for (const k of data.inFlight) {
    const ours = data.rtt[k]?.['fastify-datastar']
    const raw = data.rtt[k]?.['raw-ws']
    if (ours === undefined || raw === undefined) continue
    const ratio = ours.p50Us / raw.p50Us
    lines.push(`- Round-trip p50 with ${k} in flight ≤ ${TARGETS.p50VsRaw}× raw ws echo: ${mark(ours.p50VsRaw <= TARGETS.p50VsRaw)} — ${fmt(ours.p50Us)} µs vs ${fmt(raw.p50Us)} µs = ${ratioText(ratio, TARGETS.p50VsRaw)}× (median of the same-round ratios: **${ratioText(ours.p50VsRaw, TARGETS.p50VsRaw)}×**, ${range(ours.p50VsRawRange)} over ${ours.rounds} rounds); ` +
      `round trips/s ${fmt(ours.perSec)} vs ${fmt(raw.perSec)} (same round ${fmt(ours.perSecVsRaw, 2)}×); server CPU per round trip ${fmt(ours.serverCpuUsPerCall, 1)} µs vs ${fmt(raw.serverCpuUsPerCall, 1)} µs, page process ${fmt(ours.clientCpuUsPerCall, 1)} µs vs ${fmt(raw.clientCpuUsPerCall, 1)} µs.` +
      straddles(ours.p50VsRawRange, TARGETS.p50VsRaw))
  }
  for (const n of data.sizes) {
    const ours = data.callAll[n]?.['fastify-datastar']
    const sio = data.callAll[n]?.['socket.io']
    if (ours === undefined || sio === undefined) continue
    const ratio = ours.resultsPerSec / sio.resultsPerSec
    lines.push(`- callAll over ${fmt(n)} sessions, results/s ≥ ${TARGETS.callAllVsSocketIo}× socket.io's broadcast with acks: ${mark(ours.perSecVsSocketIo >= TARGETS.callAllVsSocketIo)} — ${fmt(ours.resultsPerSec)} vs ${fmt(sio.resultsPerSec)} = ${ratioText(ratio, TARGETS.callAllVsSocketIo)}× (median of the same-round ratios: **${ratioText(ours.perSecVsSocketIo, TARGETS.callAllVsSocketIo)}×**, ${range(ours.perSecVsSocketIoRange)}); ` +
      `${fmt(ours.medianMs, 1)} ms vs ${fmt(sio.medianMs, 1)} ms until every result; server CPU per result ${fmt(ours.serverCpuUsPerResult, 1)} µs vs ${fmt(sio.serverCpuUsPerResult, 1)} µs; the pages' process was busy ${fmt(100 * ours.clientBusy)} % vs ${fmt(100 * sio.clientBusy)} % of the calls.` +
      straddles(ours.perSecVsSocketIoRange, TARGETS.callAllVsSocketIo))
  }
  lines.push(...twoNodeVerdicts(data))
  const ours = data.idle?.['fastify-datastar']
  const raw = data.idle?.['raw-ws']
  if (ours !== undefined && raw !== undefined) {
    const ratio = ours.rssPerConn / raw.rssPerConn
    // Judged on the same-round ratio, as the other targets (the ratio of the medians if there is none).
    const judged = Number.isFinite(ours.rssPerConnRoundRatio) ? ours.rssPerConnRoundRatio : ratio
    lines.push(`- Idle memory per session ≤ ${TARGETS.memory}× a bare ws connection: ${mark(judged <= TARGETS.memory)} — ${fmt(ours.rssPerConn)} B vs ${fmt(raw.rssPerConn)} B of RSS = ${ratioText(ratio, TARGETS.memory)}× (median of the same-round ratios: **${ratioText(judged, TARGETS.memory)}×**; V8 heap ${fmt(ours.heapPerConn)} B vs ${fmt(raw.heapPerConn)} B = ${fmt(ours.heapPerConn / raw.heapPerConn, 2)}×).`)
  }
  return lines
}

/** Issue #13's target for the two-node row, per N: met or MISSED, or why it could not be judged. */
function twoNodeVerdicts (data) {
  const lines = []
  const id = 'fastify-datastar-2-nodes'
  const what = (n) => `callAll over ${fmt(n)} sessions on two nodes (one redis-server), results/s ≥ ${TARGETS.twoNodesVsOne}× one node`
  if (!(data.selected ?? []).includes(id)) return lines
  if (data.unavailable?.[id] !== undefined) {
    lines.push(`- ${what(data.sizes[0] ?? 0)}: **not judged**, the two-node row was not available in this run (\`${data.unavailable[id]}\`).`)
    return lines
  }
  for (const n of data.sizes) {
    const two = data.callAll[n]?.[id]
    const one = data.callAll[n]?.['fastify-datastar']
    if (two === undefined || one === undefined) {
      lines.push(`- ${what(n)}: **not judged**, no ${two === undefined ? 'two-node' : 'one-node'} result (see the rounds table).`)
      continue
    }
    const ratio = two.resultsPerSec / one.resultsPerSec
    const judged = Number.isFinite(two.perSecVsOneNode) ? two.perSecVsOneNode : ratio
    lines.push(`- ${what(n)}: ${mark(judged >= TARGETS.twoNodesVsOne)} — ${fmt(two.resultsPerSec)} vs ${fmt(one.resultsPerSec)} = ${ratioText(ratio, TARGETS.twoNodesVsOne)}× (median of the same-round ratios: **${ratioText(judged, TARGETS.twoNodesVsOne)}×**, ${range(two.perSecVsOneNodeRange)} over ${two.rounds} rounds); ` +
      `${fmt(two.medianMs, 1)} ms vs ${fmt(one.medianMs, 1)} ms until every result; server CPU per result ${fmt(two.serverCpuUsPerResult, 1)} µs for both nodes (the calling node ${fmt(two.callerCpuUsPerResult, 1)} µs) vs ${fmt(one.serverCpuUsPerResult, 1)} µs, redis-server ${fmt(two.redisCpuUsPerResult, 1)} µs; the pages' process was busy ${fmt(100 * two.clientBusy)} % vs ${fmt(100 * one.clientBusy)} % of the calls.` +
      (two.completeRounds < two.rounds ? ` **${two.rounds - two.completeRounds} of ${two.rounds} rounds incomplete** (a result missing or not 3).` : '') +
      straddles(two.perSecVsOneNodeRange, TARGETS.twoNodesVsOne))
  }
  return lines
}

function report (data, svgName) {
  const out = []
  const version = (name) => data.versions?.[name] ?? '?'
  const loads = [...data.rttRounds, ...data.callRounds, ...(data.idle?.all ?? [])].map((row) => row.load).filter(Number.isFinite)
  const shown = oneNodeIds(data).map(variantById)
  const shownCalls = data.variants.map(variantById)
  const twoNodes = shownCalls.some((variant) => (variant.nodes ?? 1) > 1)
  out.push('# Browser RPC: round trips, calls to all, idle sessions — results', '')
  out.push('fastify-datastar/rpc (`app.register(rpc)` with its defaults, browser functions declared with their bodies, `session.call(echo, [text])` and `app.rpc.callAll(add, [1, 2])`) side by side with a raw `ws` echo and socket.io acks (`socket.emitWithAck()`, `io.timeout(ms).emitWithAck()` to all sockets), over WebSocket on 127.0.0.1, measured in one run (issue #12).', '')
  out.push('_This file is written by `bench/rpc/run.mjs`; the notes at the end are kept in `bench/rpc/NOTES.md` and copied in._', '')
  out.push('## Command', '', '```sh', 'npm run bench:rpc   # = npm run build && node bench/rpc/run.mjs', `${data.command}   # this run`, '```', '')
  out.push(...unavailableSection(data.unavailable, variantById))
  out.push('## Setup', '')
  out.push(`- Machine: ${data.cpus} cores (${data.cpuModel}), ${data.memGiB} GiB, ${data.os}; Node ${data.node}. A shared VM: the 1-minute load average is recorded at every round (2 would be this bench alone: server and pages each on a core). During the run: median ${fmt(median(loads), 1)}, highest ${fmt(Math.max(...loads), 1)}.`,
    `- Versions: ws ${version('ws')}; fastify ${version('fastify')}; @fastify/websocket ${version('@fastify/websocket')}; socket.io ${version('socket.io')}; socket.io-client ${version('socket.io-client')}; fastify-datastar ${version('fastify-datastar')} (dist/${data.commit === undefined ? '' : `, built from ${data.commit}`}).`,
    `- Each server runs in its own process (\`bench/rpc/servers/*.mjs\`, \`node --expose-gc\`)${data.pinned ? ', pinned to CPU 0 with `taskset`' : ''}; the pages (\`bench/rpc/client.mjs\`) are one other process${data.pinned ? ', pinned to CPU 1' : ''}; run.mjs only orchestrates over IPC. The server makes every call and times it.`,
    '- **Pages.** raw ws: a `ws` WebSocket that sends every message back as it came. socket.io: socket.io-client with `transports: [\'websocket\']`, its own Manager (`forceNew`), acking `\'echo\'` with its argument and `\'add\'` with the sum. fastify-datastar: the `RpcClient` pages run (imported from `fastify-datastar/rpc`) on `ws`\'s WebSocket, with the browser-function module the server serves (fetched once per process from `/rpc/client.js`, as `connectTestPage` does, without its fault-injecting socket).',
    `- **Round trips**: per variant and in-flight count, a fresh server and one page; a warm-up of ${fmt(data.rttMs / 4)} ms, then calls for ${fmt(data.rttMs)} ms (at most ${fmt(data.maxCalls)}), each echoing a string of ${data.payloadBytes} characters: raw ws \`ws.send(text)\` and a FIFO of waiting sends resolved by the echoes; socket.io \`socket.emitWithAck('echo', text)\`; fastify-datastar \`session.call(echo, [text])\` (the result checked against its schema). With k in flight, k loops each await their call before making the next. **p50/p99** of the latencies (call → result); **CPU per round trip**: the server's (process.cpuUsage) and the pages' process's (/proc) over the loop; **busy**: CPU time / loop time.`,
    `- **Calls to all**: per variant and N, a fresh server and N pages; ${data.warmupCalls} warm-up calls, then ${data.calls} calls one after the other (a macrotask between them), each timed until its last result: raw ws sends one pre-encoded message to every socket and counts N replies; socket.io \`io.timeout(${fmt(data.callTimeoutMs)}).emitWithAck('add', 1, 2)\`; fastify-datastar \`app.rpc.callAll(add, [1, 2], { timeout: ${fmt(data.callTimeoutMs)} })\` (a round is complete when every result was 3). **Results/s** = N / the median call's time.`,
    `- **Idle memory**: per variant, a fresh server; 200 pages connected and closed (warm-up); GC; baseline; ${fmt(data.idleConnections)} idle pages connected and counted by the server (for fastify-datastar, its sessions); 0.5 s; GC; growth of RSS and V8 heapUsed / ${fmt(data.idleConnections)}. Every variant keeps its default heartbeat (socket.io a ping every 25 s; the RPC socket the WebSocket plugin's 30 s ping, one shared timer; raw ws none).`,
    ...(twoNodes
      ? [`- **Two nodes** (issue #13; calls to all only): per N, a fresh \`redis-server\` (\`bench/common/redis.mjs\`: a free port of 127.0.0.1, no persistence) and two processes of the fastify-datastar server, each \`app.register(rpc, { backplane: new RedisBackplane({ redis }) })\`, waited for until \`app.rpc.nodes()\` lists both; N/2 pages connect to each; every call is \`app.rpc.callAll(add, [1, 2])\` on the first node (node A), so half the entries come back through Redis from node B. ${data.pinned ? 'Both nodes and redis-server are pinned to CPU 0, the pages to CPU 1: the CPU one node gets, so the ratio to one node is what crossing Redis costs, not what a second core adds.' : 'Not pinned: the nodes, redis-server and the pages go where the scheduler puts them.'} Compared with the one-node fastify-datastar row **of the same round** (× one node, median and range over rounds; target ≥ ${TARGETS.twoNodesVsOne}×). Server CPU per result is both nodes' together; redis-server's (from /proc, 10 ms ticks) apart.`]
      : []),
    `- The variants take turns within each round (a new, seeded order each round); medians over rounds (round trips ${data.rttRoundsDone}, calls to all ${data.callRoundsDone} of ${data.rounds} asked; idle ${data.idleRounds}), and the **same-round ratio** (ours / the baseline measured in the same round), its median and range over rounds.`, '')
  out.push(`Run from ${data.startedAt} to ${data.finishedAt} (${fmt(data.minutes, 1)} min, time limit ${data.timeLimitMinutes} min).${data.cut ? ' **The time limit cut the run short: fewer rounds than asked (see the round counts).**' : ''}`, '')

  for (const k of data.inFlight) {
    out.push(`## Round trips of one session, ${k} in flight`, '')
    out.push(...table([
      ['server', 'l', ({ variant }) => nameOf(variant)],
      ['round trips/s', 'r', ({ r }) => fmt(r.perSec)],
      ['× raw ws, same round', 'r', ({ r }) => fmt(r.perSecVsRaw, 2)],
      ['p50 µs', 'r', ({ r }) => fmt(r.p50Us)],
      ['p50 × raw ws, same round (range)', 'r', ({ r }) => `${fmt(r.p50VsRaw, 2)} (${range(r.p50VsRawRange)})`],
      ['p99 µs', 'r', ({ r }) => fmt(r.p99Us)],
      ['server CPU µs / round trip', 'r', ({ r }) => fmt(r.serverCpuUsPerCall, 1)],
      ['pages CPU µs / round trip', 'r', ({ r }) => fmt(r.clientCpuUsPerCall, 1)],
      ['busy: server / pages', 'r', ({ r }) => `${fmt(100 * r.serverBusy)} % / ${fmt(100 * r.clientBusy)} %`],
      ['round trips/s over rounds', 'r', ({ r }) => range(r.perSecRange, 0)],
      ['rounds', 'r', ({ r }) => r.rounds]
    ], shown.map((variant) => data.rtt[k]?.[variant.id] === undefined ? `| ${nameOf(variant)} | failed | | | | | | | | | 0 |` : { variant, r: data.rtt[k][variant.id] })), '')
  }
  for (const n of data.sizes) {
    out.push(`## Calls to all, ${fmt(n)} sessions`, '')
    out.push(...table([
      ['server', 'l', ({ variant }) => nameOf(variant)],
      ['ms until every result', 'r', ({ r }) => fmt(r.medianMs, 1)],
      ['results/s', 'r', ({ r }) => fmt(r.resultsPerSec)],
      ['× socket.io, same round (range)', 'r', ({ r }) => `${fmt(r.perSecVsSocketIo, 2)} (${range(r.perSecVsSocketIoRange)})`],
      ['× raw ws, same round', 'r', ({ r }) => fmt(r.perSecVsRaw, 2)],
      ...(twoNodes ? [['× one node, same round (range)', 'r', ({ variant, r }) => (variant.nodes ?? 1) > 1 ? `${fmt(r.perSecVsOneNode, 2)} (${range(r.perSecVsOneNodeRange)})` : '—']] : []),
      ['server CPU µs / result', 'r', ({ r }) => fmt(r.serverCpuUsPerResult, 1)],
      ...(twoNodes ? [['redis-server CPU µs / result', 'r', ({ variant, r }) => (variant.nodes ?? 1) > 1 ? fmt(r.redisCpuUsPerResult, 1) : '—']] : []),
      ['pages CPU µs / result', 'r', ({ r }) => fmt(r.clientCpuUsPerResult, 1)],
      ['pages busy', 'r', ({ r }) => `${fmt(100 * r.clientBusy)} %`],
      ['results/s over rounds', 'r', ({ r }) => range(r.resultsPerSecRange, 0)],
      ['rounds (complete)', 'r', ({ r }) => `${r.rounds} (${r.completeRounds})`]
    ], shownCalls.map((variant) => data.callAll[n]?.[variant.id] === undefined ? `| ${nameOf(variant)} | failed |${' |'.repeat(twoNodes ? 9 : 7)} 0 |` : { variant, r: data.callAll[n][variant.id] })), '')
  }
  if (data.idle !== null) {
    out.push(`## Idle memory, ${fmt(data.idleConnections)} pages`, '')
    const base = data.idle['raw-ws']
    out.push(...table([
      ['server', 'l', ({ variant }) => nameOf(variant)],
      ['RSS B / page', 'r', ({ r }) => fmt(r.rssPerConn)],
      ['× raw ws', 'r', ({ r }) => fmt(r.rssPerConn / base?.rssPerConn, 2)],
      ['× raw ws, same round', 'r', ({ r }) => fmt(r.rssPerConnRoundRatio, 2)],
      ['V8 heap B / page', 'r', ({ r }) => fmt(r.heapPerConn)],
      ['× raw ws', 'r', ({ r }) => fmt(r.heapPerConn / base?.heapPerConn, 2)],
      ['external B / page', 'r', ({ r }) => fmt(r.externalPerConn)],
      ['RSS before → after (MiB)', 'l', ({ r }) => `${fmt(r.rssBefore / 2 ** 20, 1)} → ${fmt(r.rssAfter / 2 ** 20, 1)}`]
    ], shown.map((variant) => data.idle[variant.id] === undefined ? `| ${nameOf(variant)} | failed | | | | | | |` : { variant, r: data.idle[variant.id] })), '')
  }
  out.push('## Chart', '', `![round trips, calls to all and idle memory](${svgName})`, '')
  out.push('## Targets', '', ...noise(data), ...verdicts(data), '')
  const notes = readFileSafe(path.join(here, 'NOTES.md'))
  if (notes !== null) out.push(notes.trim(), '')

  out.push('## Every round', '')
  const error = (row) => row.error ?? (row.complete ? 'yes' : `no (${row.received}/${row.expected})`)
  out.push(...table([
    ['in flight', 'r', (row) => row.n],
    ['server', 'l', (row) => row.variant],
    ['round', 'r', (row) => row.round],
    ['round trips/s', 'r', (row) => fmt(row.perSec)],
    ['p50 µs', 'r', (row) => fmt(row.p50Us)],
    ['p99 µs', 'r', (row) => fmt(row.p99Us)],
    ['max µs', 'r', (row) => fmt(row.maxUs)],
    ['server / pages CPU µs per round trip', 'r', (row) => `${fmt(row.serverCpuUsPerCall, 1)} / ${fmt(row.clientCpuUsPerCall, 1)}`],
    ['load avg (1 min)', 'r', (row) => fmt(row.load, 1)],
    ['complete', 'l', error]
  ], data.rttRounds), '')
  out.push(...table([
    ['N', 'r', (row) => fmt(row.n)],
    ['server', 'l', (row) => row.variant],
    ['round', 'r', (row) => row.round],
    ['ms until every result: median (min–max)', 'r', (row) => `${fmt(row.medianMs, 1)} (${fmt(row.minMs, 1)}–${fmt(row.maxMs, 1)})`],
    ['results/s', 'r', (row) => fmt(row.resultsPerSec)],
    ['server / pages CPU µs per result', 'r', (row) => `${fmt(row.serverCpuUsPerResult, 1)} / ${fmt(row.clientCpuUsPerResult, 1)}`],
    ['connect ms', 'r', (row) => fmt(row.connectMs)],
    ['load avg (1 min)', 'r', (row) => fmt(row.load, 1)],
    ['complete', 'l', error]
  ], data.callRounds), '')
  if (data.idleRounds > 0) {
    const i = idleRoundColumns('page')
    out.push(...table([i.server, i.round, i.rss, i.heap, i.rssMoved, i.connect, i.load], data.idle?.all ?? []), '')
  }
  return out.join('\n')
}

/** RESULTS.md and rpc.svg of a run's data. */
export function render (data, { svgName = 'rpc.svg' } = {}) {
  return { markdown: report(data, svgName), svg: chart(data) }
}
