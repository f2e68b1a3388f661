// Renders bench/fanout's results (results.json) as RESULTS.md and fanout.svg.
// Everything shown comes from the results data, so a run can be rendered again
// (`node bench/fanout/run.mjs --render bench/fanout/results.json`), for example
// after ANALYSIS.md, which is copied in, was edited.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Chart, esc, fmt, heapSection, idleRoundColumns, median, medianColumns, nameOf, readFileSafe, roundColumns, table } from '../common/report.mjs'
import { variantById } from './variants.mjs'

export { fmt, median }

const here = path.dirname(fileURLToPath(import.meta.url))

function chart (data) {
  const { fanout, idle, events: EVENTS, idleConnections: IDLE } = data
  const SELECTED = data.variants.map(variantById)
  const figure = new Chart()
  if (Object.keys(fanout).length > 0) {
    const perSize = (spec) => figure.addPerSize({ fanout, variants: SELECTED, baseline: 'raw', ...spec })
    perSize({
      title: 'Deliveries per second, × raw node:http (medians over rounds)',
      pick: (r, raw) => r?.deliveriesPerSec / raw?.deliveriesPerSec,
      format: (v) => v.toFixed(2) + '×',
      references: [{ value: 0.95, label: 'target 0.95×' }, { value: 2, label: 'coalesce target 2×' }]
    })
    perSize({ title: `Deliveries per second (${EVENTS} events of ~200 B to each of N connections)`, pick: (r) => r?.deliveriesPerSec, format: (v) => fmt(v) })
    perSize({ title: 'p99 latency, ms, from each event\'s send time (publish call → event parsed by the client)', pick: (r) => r?.p99Ms, format: (v) => fmt(v, 1) })
    perSize({ title: 'p99 latency, ms, from the start of the burst (waiting behind earlier events included)', pick: (r) => r?.burstP99Ms, format: (v) => fmt(v, 1) })
  }
  if (idle !== null) {
    figure.addIdle({
      title: `Idle memory per connection, bytes (${fmt(IDLE)} connections, after GC)`,
      idle,
      variants: data.idleVariants.map(variantById),
      references: [{ value: idle.raw?.rssPerConn * 1.1, label: 'target: 1.1× raw RSS' }]
    })
  }
  return figure.svg()
}

/** The targets of the issue, each met or MISSED, with the numbers. */
export function verdicts (data) {
  const { fanout, idle } = data
  const SELECTED = data.variants.map(variantById)
  const lines = []
  const mark = (ok) => ok ? '**met**' : '**MISSED**'
  for (const n of Object.keys(fanout).map(Number)) {
    const results = fanout[n]
    const raw = results.raw
    const ours = results['fastify-datastar']
    const coalesced = results['fastify-datastar-coalesce']
    if (raw === undefined) continue
    if (ours !== undefined) {
      const ratio = ours.deliveriesPerSec / raw.deliveriesPerSec
      const peers = SELECTED.filter((variant) => !variant.ours && !variant.diagnostic && variant.id !== 'raw' && results[variant.id] !== undefined)
      const beaten = peers.filter((variant) => ours.deliveriesPerSec > results[variant.id].deliveriesPerSec)
      lines.push(`- N = ${fmt(n)}, deliveries/s ≥ 0.95× raw: ${mark(ratio >= 0.95)} — ${fmt(ours.deliveriesPerSec)} vs ${fmt(raw.deliveriesPerSec)} = **${ratio.toFixed(2)}×**.`)
      lines.push(`- N = ${fmt(n)}, ahead of every peer: ${mark(beaten.length === peers.length)}` + (beaten.length === peers.length ? '.' : ` — behind ${peers.filter((v) => !beaten.includes(v)).map((v) => `${v.short} (${fmt(results[v.id].deliveriesPerSec)})`).join(', ')}.`))
    }
    if (coalesced !== undefined) {
      const ratio = coalesced.deliveriesPerSec / raw.deliveriesPerSec
      lines.push(`- N = ${fmt(n)}, coalesce: deliveries/s ≥ 2× raw: ${mark(ratio >= 2)} — **${ratio.toFixed(2)}×**.`)
      // Judged from when the events were wanted (all at the burst start): a publish call is stamped only once
      // the previous one returned, so stamps taken at the call leave out the wait behind a slow server (coordinated omission).
      lines.push(`- N = ${fmt(n)}, coalesce: p99 ≤ raw's, from when each event was wanted (the burst start, waiting behind earlier events included): ${mark(coalesced.burstP99Ms <= raw.burstP99Ms)} — ${fmt(coalesced.burstP99Ms, 1)} ms vs ${fmt(raw.burstP99Ms, 1)} ms. For information, from each publish call (stamped late when publishing waits): ${fmt(coalesced.p99Ms, 1)} ms vs ${fmt(raw.p99Ms, 1)} ms.`)
    }
  }
  if (idle !== null && idle.raw !== undefined && idle['fastify-datastar'] !== undefined) {
    const ratio = idle['fastify-datastar'].rssPerConn / idle.raw.rssPerConn
    lines.push(`- Idle bytes per connection ≤ 1.1× raw: ${mark(ratio <= 1.1)} — ${fmt(idle['fastify-datastar'].rssPerConn)} B vs ${fmt(idle.raw.rssPerConn)} B of RSS = **${ratio.toFixed(2)}×** (V8 heap: ${fmt(idle['fastify-datastar'].heapPerConn)} B vs ${fmt(idle.raw.heapPerConn)} B = ${(idle['fastify-datastar'].heapPerConn / idle.raw.heapPerConn).toFixed(2)}×).`)
  }
  return lines
}

/** min, median and max of the finite values of `key` over `rows`. */
function spread (rows, key) {
  const values = rows.map((row) => row[key]).filter(Number.isFinite)
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) }
}

/**
 * Issue #11: coalesce 0 (one write per subscriber per event-loop turn) against
 * the default coalesce: false, each round against the other's same round, with
 * the spread over rounds (min – max) next to each median.
 */
function coalesce0Section (data) {
  const { fanoutRounds } = data
  const ids = ['fastify-datastar', 'fastify-datastar-coalesce0']
  if (!ids.every((id) => data.variants.includes(id))) return []
  const out = ['## coalesce 0 against coalesce: false (issue #11)', '',
    'Medians over rounds, with the spread over rounds (min – max). "Same round" divides each round\'s coalesce 0 result by the `false` result of the same round (same machine load), then takes the median and the range of those ratios: a range that holds 1.00 means the rounds do not tell the two apart.', '']
  const range = ({ min, median: mid, max }, digits = 0) => `${fmt(mid, digits)} (${fmt(min, digits)} – ${fmt(max, digits)})`
  for (const n of data.sizes) {
    const rowsOf = (id) => fanoutRounds.filter((row) => row.n === n && row.variant === id && row.error === undefined)
    const [off, zero] = ids.map(rowsOf)
    if (off.length === 0 || zero.length === 0) continue
    const sameRound = (key) => zero.map((row) => {
      const other = off.find((candidate) => candidate.round === row.round)
      return { ratio: other === undefined ? NaN : row[key] / other[key] }
    })
    out.push(`### N = ${fmt(n)}`, '')
    out.push('| | deliveries/s | p50 ms | p99 ms | p99 ms from burst start | server CPU µs / delivery | server system µs / delivery | rounds |', '|---|---:|---:|---:|---:|---:|---:|---:|')
    for (const [id, rows] of [[ids[0], off], [ids[1], zero]]) {
      out.push(`| ${nameOf(variantById(id))} | ${range(spread(rows, 'deliveriesPerSec'))} | ${range(spread(rows, 'p50Ms'), 1)} | ${range(spread(rows, 'p99Ms'), 1)} | ${range(spread(rows, 'burstP99Ms'), 1)} | ${range(spread(rows, 'serverCpuUsPerDelivery'), 2)} | ${range(spread(rows, 'serverSystemUsPerDelivery'), 2)} | ${rows.length} |`)
    }
    out.push(`| coalesce 0 ÷ false, same round | ${range(spread(sameRound('deliveriesPerSec'), 'ratio'), 2)} | ${range(spread(sameRound('p50Ms'), 'ratio'), 2)} | ${range(spread(sameRound('p99Ms'), 'ratio'), 2)} | ${range(spread(sameRound('burstP99Ms'), 'ratio'), 2)} | ${range(spread(sameRound('serverCpuUsPerDelivery'), 'ratio'), 2)} | ${range(spread(sameRound('serverSystemUsPerDelivery'), 'ratio'), 2)} | |`)
    out.push('')
  }
  return out
}

function report (data, svgName) {
  const { fanout, fanoutRounds, idle, idleRounds, profiles, heap, startedAt, finishedAt, cut, events: EVENTS, idleConnections: IDLE } = data
  const SELECTED = data.variants.map(variantById)
  const IDLE_VARIANTS = data.idleVariants.map(variantById)
  const version = (name) => data.versions?.[name] ?? '?'
  const out = []
  out.push('# SSE fan-out and idle memory: results', '')
  out.push('fastify-datastar\'s registry (`app.registry(\'bench\')`, Datastar streams from `reply.datastar({ compression: false, keepAlive: false })`,',
    'broadcast with `registry.patchSignals(json)`: encoded once, the same bytes written to every subscriber) side by side with the peers,',
    'all serving the same Datastar `datastar-patch-signals` events over HTTP/1.1 (chunked) on 127.0.0.1, measured in one run.', '')
  out.push('_This file is written by `bench/fanout/run.mjs`; the analysis at the end is kept in `bench/fanout/ANALYSIS.md` and copied in._', '')
  out.push('## Command', '', '```sh', 'npm run bench:fanout   # = npm run build && node bench/fanout/run.mjs', `${data.command}   # this run`, '```', '')
  out.push('## Setup', '')
  out.push(`- Machine: ${data.cpus} cores (${data.cpuModel}), ${data.memGiB} GiB, ${data.os}; Node ${data.node}. Load average (1 min) during the fan-out rounds: median ${fmt(median(fanoutRounds.map((row) => row.load)), 1)}, highest ${fmt(Math.max(...fanoutRounds.map((row) => row.load ?? NaN).filter(Number.isFinite)), 1)} (2 would be this bench alone: server and client each on a core).`)
  out.push(`- Peers: node:http raw; @starfederation/datastar-sdk ${version('@starfederation/datastar-sdk')}; @fastify/sse ${version('@fastify/sse')}; better-sse ${version('better-sse')}; fastify ${version('fastify')}; fastify-datastar ${version('fastify-datastar')} (dist/${data.commit === undefined ? '' : `, built from ${data.commit}`}).`)
  out.push(`- Each server variant runs in its own process (\`bench/fanout/servers/*.mjs\`)${data.pinned ? ', pinned to CPU 0 with `taskset`' : ''}; the load generator (\`bench/fanout/client.mjs\`) is another process${data.pinned ? ', pinned to CPU 1' : ''}: plain TCP sockets, a minimal chunked decoder, an event counted at each blank line, its latency read from the send time the server put in it (µs of the monotonic clock every process shares).`,
    `- **Fan-out**: per variant and N, a fresh server and client; N connections; one warm-up burst; then one measured burst of ${EVENTS} events of ~200 B (${data.publish === 'same-turn' ? 'publish pattern **same-turn** (`--publish same-turn`): every publish in one synchronous loop, nothing awaited between them, as one handler publishing several events at once' : 'publish pattern **macrotask** (the default): one publish per macrotask, `setImmediate` between them, as if each came from its own request'}; each event stamped with its send time). **Deliveries/s** = N × ${EVENTS} / (time from the first publish to the last event received by the last client). **p50/p99** over all N × ${EVENTS} deliveries, from each event's send time (stamped when its publish call begins). Because each publish waits for the previous one to return, a server whose publish is slow also stamps its later events late (coordinated omission), so the latency **from the burst start** (all ${EVENTS} events wanted at once) is given too: it counts the wait behind earlier events. **Server CPU** = server process user+system time during the measured burst / deliveries. The variants take turns within each round (a new, seeded order each round); medians over rounds.`,
    idle === null ? '- **Idle memory**: not measured in this run (`--idle 0`).' : `- **Idle memory**: per variant, a fresh server; 200 connections opened and closed (warm-up); GC; baseline; ${fmt(IDLE)} idle connections opened and registered; GC; growth of RSS and V8 heapUsed / ${fmt(IDLE)}. Keep-alive comments are off in every variant. Median of ${idleRounds} rounds.`,
    '- Diagnostics (in italics; not peers, not held to the targets): in fan-out, **raw socket writes** (node:http writes the head, then each event goes to `res.socket.write()` as one pre-framed HTTP/1.1 chunk built once per event: what `res.write()`\'s own work costs); in idle memory, **Fastify, hijacked reply** (`reply.hijack()`, head and writes on the raw response, kept in a Set: Fastify\'s own per-request cost) and **fastify-datastar streams in a Set** (`reply.datastar()` without the registry: the stream\'s cost). They split the gap between raw and fastify-datastar.',
    '- Variants: **raw** keeps a `Set` of responses and writes one pre-encoded `Buffer` per event to each; **datastar-sdk** calls `ServerSentEventGenerator#patchSignals(json, { eventId })` per connection; **@fastify/sse** calls `reply.sse.send({ id, event, data })` per connection (heartbeat off, identity serializer); **better-sse** calls `channel.broadcast(data, event, { eventId })` (keep-alive and retry off, identity serializer); **fastify-datastar** `registry.patchSignals(json)` (defaults: replay ring of 256 events); **coalesce 0** the same with the registry option `coalesce: 0` (the events of one event-loop turn gathered, flushed by `setImmediate`: one write per subscriber per turn); **coalesce** (2 ms) with `coalesce: 2`.',
    '')
  out.push(`Run from ${startedAt} to ${finishedAt}.${cut ? ' **The time limit cut the run short: fewer rounds than asked (see the round counts).**' : ''}`, '')

  for (const n of Object.keys(fanout).map(Number)) {
    const results = fanout[n]
    const raw = results.raw
    out.push(`## Fan-out, N = ${fmt(n)} connections × ${EVENTS} events`, '')
    const c = medianColumns
    out.push(...table([c.server, c.deliveries, c.ratio('× raw'), c.roundRatio('× raw, same round'), c.p50, c.p99, c.burstP50, c.burstP99, c.serverCpu, c.clientCpu, c.rounds],
      SELECTED.filter((variant) => results[variant.id] !== undefined).map((variant) => ({ variant, r: results[variant.id], base: raw }))))
    out.push('')
  }
  if (idle !== null) {
    out.push(`## Idle memory, ${fmt(IDLE)} connections`, '')
    out.push('| server | RSS B / connection | × raw | V8 heap B / connection | × raw | external B / connection |')
    out.push('|---|---:|---:|---:|---:|---:|')
    for (const variant of IDLE_VARIANTS) {
      const r = idle[variant.id]
      if (r === undefined) continue
      const name = nameOf(variant)
      out.push(`| ${name} | ${fmt(r.rssPerConn)} | ${(r.rssPerConn / idle.raw?.rssPerConn).toFixed(2)} | ${fmt(r.heapPerConn)} | ${(r.heapPerConn / idle.raw?.heapPerConn).toFixed(2)} | ${fmt(r.externalPerConn)} |`)
    }
    out.push('')
    const steps = ['raw', 'fastify-hijack', 'fastify-datastar-streams', 'fastify-datastar'].map((id) => idle[id])
    if (steps.every((step) => step !== undefined)) {
      const [raw, hijack, streams, ours] = steps
      const part = (key, a, b) => (b[key] - a[key] < 0 ? '−' : '+') + fmt(Math.abs(b[key] - a[key]))
      out.push(`From raw to fastify-datastar, per connection (RSS / V8 heap, bytes): Fastify's own request handling (diagnostic "Fastify, hijacked reply") **${part('rssPerConn', raw, hijack)} / ${part('heapPerConn', raw, hijack)}**; the Datastar stream (\`reply.datastar()\`, kept in a Set) **${part('rssPerConn', hijack, streams)} / ${part('heapPerConn', hijack, streams)}**; membership of the registry **${part('rssPerConn', streams, ours)} / ${part('heapPerConn', streams, ours)}**. (Differences of medians; RSS moves in pages and is noisier than the heap.)`, '')
    }
  }
  out.push(...coalesce0Section(data))
  out.push('## Chart', '', `![fan-out and idle memory](${svgName})`, '')
  out.push('## Targets', '', ...verdicts(data), '')

  if (profiles.length > 0) {
    out.push('## Where the server time goes (CPU profiles)', '')
    out.push(`V8 CPU profiles of the server (node:inspector, 100 µs sampling) during ${data.profileBursts} bursts at N = ${fmt(data.profileN)} after a warm-up, generated by this run. Self time; "native" is time in C++ and syscalls (\`writev\` of each \`res.write\`), attributed to no JS function.`, '')
    for (const summary of profiles) {
      const variant = variantById(summary.variant)
      out.push(`### ${variant.label}: ${fmt(summary.busyMs)} ms busy of ${fmt(summary.totalMs)} ms`, '')
      out.push('| area | self ms | share of busy |', '|---|---:|---:|')
      for (const [area, us] of summary.areas) out.push(`| ${esc(area)} | ${fmt(us / 1000, 1)} | ${(100 * us / 1000 / summary.busyMs).toFixed(1)} % |`)
      out.push('', '| hottest functions (self) | self ms | share of busy |', '|---|---:|---:|')
      for (const [name, us] of summary.functions) out.push(`| \`${name.replace(/\|/g, '\\|')}\` | ${fmt(us / 1000, 1)} | ${(100 * us / 1000 / summary.busyMs).toFixed(1)} % |`)
      out.push('')
    }
  }
  if (heap.length > 0) {
    out.push(...heapSection({
      heap,
      noun: 'connection',
      intro: `V8 heap snapshot after GC with ${fmt(data.heapN)} idle connections minus the one before them, per connection, by object type and constructor (self sizes; RSS also holds what V8 does not see: llhttp parsers, libuv handles, malloc overhead).`,
      labelOf: (id) => variantById(id).label
    }))
  }
  const analysis = readFileSafe(path.join(here, 'ANALYSIS.md'))
  if (analysis !== null) out.push(analysis.trim(), '')

  out.push('## Every round', '')
  const c = roundColumns
  out.push(...table([c.n, c.server, c.round, c.deliveries, c.p50, c.p99, c.max, c.burstP99, c.serverCpu, c.clientCpu, c.publish('publish loop ms'), c.load, c.complete], fanoutRounds), '')
  if (idleRounds > 0) {
    const i = idleRoundColumns('conn')
    out.push(...table([i.server, i.round, i.rss, i.heap, i.rssMoved], idle?.all ?? []), '')
  }
  return out.join('\n')
}

/** RESULTS.md and fanout.svg of a run's data. */
export function render (data, { svgName = 'fanout.svg' } = {}) {
  return { markdown: report(data, svgName), svg: chart(data) }
}
