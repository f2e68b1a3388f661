// What the reports of bench/fanout and bench/websocket share (each bench's
// report.mjs renders its results.json as RESULTS.md and an SVG chart):
// medians and number formatting, the chart's grouped-bar panels, variant
// names in tables, and the heap snapshot tables.
import { readFileSync } from 'node:fs'

/** The median of the finite values, NaN if there are none. */
export const median = (values) => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export const fmt = (value, digits = 0) => Number.isFinite(value) ? value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—'
export const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A variant's name in a table: ours in bold, diagnostics in italics. */
export function nameOf (variant) {
  return variant.ours ? `**${variant.label}**` : variant.diagnostic ? `_${variant.label}_` : variant.label
}

/** The variants whose server did not start in a run (`unavailable`: id → why), as a section, or nothing. */
export function unavailableSection (unavailable, variantById) {
  const entries = Object.entries(unavailable ?? {})
  if (entries.length === 0) return []
  return ['## Not available in this run', '', ...entries.map(([id, why]) => `- **${variantById(id).label}**: its server did not start, or what it needs is missing — \`${why}\`.`), '']
}

/** A file's text, or null if it cannot be read. */
export function readFileSafe (file) {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/**
 * One horizontal grouped-bar panel: a row per variant (`{ label, ours,
 * missing, values }`), a bar per series, dashed reference lines.
 */
function panel ({ title, rows, series, y, width, format, references = [] }) {
  const labelWidth = 230
  const barHeight = 14
  const rowGap = 8
  const plotWidth = width - labelWidth - 80
  const max = Math.max(...rows.flatMap((row) => series.map((s) => row.values[s.key])).filter(Number.isFinite), ...references.map((r) => r.value).filter(Number.isFinite), 1e-9)
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759']
  let out = `<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>\n`
  series.forEach((s, i) => {
    out += `<rect x="${labelWidth + i * 120}" y="${y + 24}" width="10" height="10" fill="${colors[i]}"/><text x="${labelWidth + 14 + i * 120}" y="${y + 33}" font-size="11">${esc(s.label)}</text>\n`
  })
  let cursor = y + 44
  const top = cursor
  for (const row of rows) {
    out += `<text x="${labelWidth - 8}" y="${cursor + (series.length * barHeight) / 2 + 3}" font-size="12" text-anchor="end"${row.ours ? ' font-weight="bold"' : ''}>${esc(row.label)}</text>\n`
    series.forEach((s, i) => {
      const value = row.values[s.key]
      const w = Number.isFinite(value) ? Math.max(1, (value / max) * plotWidth) : 0
      out += `<rect x="${labelWidth}" y="${cursor + i * barHeight}" width="${w.toFixed(1)}" height="${barHeight - 2}" fill="${colors[i]}"/>`
      out += `<text x="${(labelWidth + w + 4).toFixed(1)}" y="${cursor + i * barHeight + barHeight - 3}" font-size="10">${esc(Number.isFinite(value) ? format(value) : row.missing ?? 'n/a')}</text>\n`
    })
    cursor += series.length * barHeight + rowGap
  }
  out += `<line x1="${labelWidth}" y1="${top - 4}" x2="${labelWidth}" y2="${cursor - rowGap + 2}" stroke="#333"/>\n`
  references.forEach((reference, i) => {
    if (!Number.isFinite(reference.value)) return
    const x = labelWidth + (reference.value / max) * plotWidth
    out += `<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${cursor - rowGap + 2 + i * 12}" stroke="#c00" stroke-dasharray="4 3"/>`
    out += `<text x="${(x + 3).toFixed(1)}" y="${cursor + 6 + i * 12}" font-size="10" fill="#c00">${esc(reference.label)}</text>\n`
  })
  cursor += 12 * references.length
  return { svg: out, height: cursor - y + 14 }
}

/** A variant's row label in a chart panel. */
function rowLabel (variant, missing) {
  return { label: variant.short, ours: variant.ours === true, missing: missing(variant) }
}

/** An SVG chart of panels stacked top to bottom: `add(panel spec)`, then `svg()`. */
export class Chart {
  constructor (width = 900) {
    this.width = width
    this.parts = []
    this.y = 10
  }

  /** Adds a panel: `{ title, rows, series, format, references }` (see panel()). */
  add (spec) {
    const p = panel({ ...spec, y: this.y, width: this.width })
    this.parts.push(p.svg)
    this.y += p.height
  }

  /**
   * A panel of one bar per size of `fanout` (data.fanout) for each variant:
   * `pick(medians, baseline's medians)`; `missing(variant)` labels a variant without a value.
   */
  addPerSize ({ fanout, variants, baseline, pick, missing = () => undefined, ...spec }) {
    const sizes = Object.keys(fanout).map(Number)
    this.add({
      ...spec,
      series: sizes.map((n) => ({ key: n, label: `N = ${fmt(n)}` })),
      rows: variants.map((variant) => ({
        ...rowLabel(variant, missing),
        values: Object.fromEntries(sizes.map((n) => [n, pick(fanout[n]?.[variant.id], fanout[n]?.[baseline])]))
      }))
    })
  }

  /** The idle memory panel: RSS and V8 heap per connection of each variant (`idle`, data.idle), a reference line. */
  addIdle ({ idle, variants, missing = () => undefined, ...spec }) {
    this.add({
      ...spec,
      rows: variants.map((variant) => ({ ...rowLabel(variant, missing), values: { rss: idle[variant.id]?.rssPerConn, heap: idle[variant.id]?.heapPerConn } })),
      series: [{ key: 'rss', label: 'RSS' }, { key: 'heap', label: 'V8 heap' }],
      format: (v) => fmt(v)
    })
  }

  svg () {
    const { width, y } = this
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${this.parts.join('')}</svg>\n`
  }
}

/**
 * The heap snapshot diffs as markdown: a table per variant of bytes and
 * objects per `noun` by type and constructor, under `intro`.
 */
export function heapSection ({ heap, noun, intro, labelOf, rows = 25 }) {
  const out = ['## Where the idle memory goes (heap snapshots)', '', intro, '']
  for (const diff of heap) {
    out.push(`### ${labelOf(diff.variant)}: ${fmt(diff.totalBytes)} B of V8 heap per ${noun}`, '')
    out.push(`| type: constructor | B / ${noun} | objects / ${noun} |`, '|---|---:|---:|')
    for (const row of diff.rows.slice(0, rows)) out.push(`| ${esc(row.key).replace(/\|/g, '\\|')} | ${fmt(row.bytes)} | ${fmt(row.objects, 2)} |`)
    out.push('')
  }
  return out
}

/**
 * A markdown table: `columns` of `[heading, 'l' | 'r', cell(row)]`, a line per
 * row (a string row is a line as it is).
 */
export function table (columns, rows) {
  return [
    `| ${columns.map(([heading]) => heading).join(' | ')} |`,
    `|${columns.map(([, align]) => align === 'r' ? '---:' : '---').join('|')}|`,
    ...rows.map((row) => typeof row === 'string' ? row : `| ${columns.map(([, , cell]) => cell(row)).join(' | ')} |`)
  ]
}

const ms = (key) => (row) => fmt(row[key], 1)

/** Columns of the per-round broadcast table (a row of data.fanoutRounds). */
export const roundColumns = {
  n: ['N', 'r', (row) => fmt(row.n)],
  server: ['server', 'l', (row) => row.variant],
  round: ['round', 'r', (row) => row.round],
  deliveries: ['deliveries/s', 'r', (row) => fmt(row.deliveriesPerSec)],
  p50: ['p50 ms', 'r', ms('p50Ms')],
  p99: ['p99 ms', 'r', ms('p99Ms')],
  max: ['max ms', 'r', ms('maxMs')],
  burstP99: ['p99 ms from burst start', 'r', ms('burstP99Ms')],
  serverCpu: ['server CPU µs / delivery', 'r', (row) => fmt(row.serverCpuUsPerDelivery, 2)],
  clientCpu: ['client CPU µs / delivery', 'r', (row) => fmt(row.clientCpuUsPerDelivery, 2)],
  clientBusy: ['client busy', 'r', (row) => `${fmt(100 * row.clientBusy)} %`],
  publish: (heading) => [heading, 'r', ms('publishMs')],
  connect: ['connect ms', 'r', (row) => fmt(row.connectMs)],
  load: ['load avg (1 min)', 'r', (row) => fmt(row.load, 1)],
  complete: ['complete', 'l', (row) => row.error ?? (row.complete ? 'yes' : `no (${row.received}/${row.expected})`)]
}

/** Columns of a broadcast table of medians: a row is `{ variant, r: its medians, base: the baseline's }`. */
export const medianColumns = {
  server: ['server', 'l', ({ variant }) => nameOf(variant)],
  deliveries: ['deliveries/s', 'r', ({ r }) => fmt(r.deliveriesPerSec)],
  ratio: (heading) => [heading, 'r', ({ r, base }) => base === undefined ? '—' : (r.deliveriesPerSec / base.deliveriesPerSec).toFixed(2)],
  roundRatio: (heading) => [heading, 'r', ({ r }) => fmt(r.roundRatio, 2)],
  p50: ['p50 ms', 'r', ({ r }) => fmt(r.p50Ms, 1)],
  p99: ['p99 ms', 'r', ({ r }) => fmt(r.p99Ms, 1)],
  burstP50: ['p50 ms from burst start', 'r', ({ r }) => fmt(r.burstP50Ms, 1)],
  burstP99: ['p99 ms from burst start', 'r', ({ r }) => fmt(r.burstP99Ms, 1)],
  serverCpu: ['server CPU µs / delivery (user + system)', 'r', ({ r }) => `${fmt(r.serverCpuUsPerDelivery, 2)}${Number.isFinite(r.serverUserUsPerDelivery) ? ` (${fmt(r.serverUserUsPerDelivery, 1)} + ${fmt(r.serverSystemUsPerDelivery, 1)})` : ''}`],
  clientCpu: ['client CPU µs / delivery', 'r', ({ r }) => fmt(r.clientCpuUsPerDelivery, 2)],
  clientBusy: ['client busy', 'r', ({ r }) => `${fmt(100 * r.clientBusy)} %`],
  rounds: ['rounds (complete)', 'r', ({ r }) => `${r.rounds} (${r.completeRounds})`]
}

/** Columns of the per-round idle memory table (a row of data.idle.all), per `noun` ('conn', 'client'). */
export const idleRoundColumns = (noun) => ({
  server: ['idle: server', 'l', (row) => row.variant],
  round: ['round', 'r', (row) => row.round],
  rss: [`RSS B / ${noun}`, 'r', (row) => row.error ?? fmt(row.rssPerConn)],
  heap: [`heap B / ${noun}`, 'r', (row) => row.error === undefined ? fmt(row.heapPerConn) : '—'],
  rssMoved: ['RSS before → after', 'l', (row) => row.error === undefined ? `${fmt(row.rssBefore / 2 ** 20, 1)} → ${fmt(row.rssAfter / 2 ** 20, 1)} MiB` : '—'],
  connect: roundColumns.connect,
  load: roundColumns.load
})
