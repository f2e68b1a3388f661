// Bytes on the wire and server CPU per event for a realistic Datastar stream,
// per algorithm and level, against the uncompressed stream.
//
//   npm run bench:compression            (builds, then runs on this Node)
//   npm run build && node --expose-gc bench/compression/index.mjs [events]
//
// The stream patches a ~4 KB table whose values change a little each tick, the
// way a live dashboard does. Each event is compressed and flushed on its own,
// exactly as a stream does it (FrameCompressor with the dictionary-keeping flush).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isEncodingAvailable, patchElementsEvent } from 'fastify-datastar/core'
// Internal: the per-event compressor itself, measured without a stream around it.
import { FrameCompressor } from '../../dist/src/sse/compression.js'

const EVENTS = Number(process.argv[2] ?? 500)

function tick (n) {
  const rows = []
  for (let i = 0; i < 60; i++) {
    const value = (i * 7 + n * 3) % 1000
    rows.push(`  <tr id="row-${i}"><td class="name">Sensor ${i}</td><td class="value">${value}</td><td class="unit">kPa</td></tr>`)
  }
  return `<table id="sensors" data-tick="${n}">\n${rows.join('\n')}\n</table>`
}

const events = Array.from({ length: EVENTS }, (_, n) => patchElementsEvent(tick(n)))
const identityBytes = events.reduce((sum, event) => sum + Buffer.byteLength(event), 0)

const configurations = [
  ['zstd', 1], ['zstd', 3], ['zstd', 9],
  ['br', 1], ['br', 5], ['br', 9],
  ['gzip', 1], ['gzip', 6], ['gzip', 9],
  ['deflate', 6]
]
const defaults = { zstd: 1, br: 5, gzip: 6, deflate: 6 }

async function measure (encoding, level) {
  let bytes = 0
  const compressor = new FrameCompressor({ encoding, [encoding]: { level } }, {
    frame: async (frame) => { bytes += frame.length; return true },
    fail: (error) => { throw error }
  })
  const cpuBefore = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (const event of events) await compressor.write(event)
  bytes += (await compressor.finish()).length
  const wallNs = Number(process.hrtime.bigint() - start)
  const cpu = process.cpuUsage(cpuBefore)
  return { bytes, cpuUsPerEvent: (cpu.user + cpu.system) / EVENTS, wallUsPerEvent: wallNs / 1000 / EVENTS }
}

const measureSpeed = process.env.BENCH_MEMORY_ONLY === undefined
const rows = [{ name: 'identity', bytes: identityBytes, ratio: 1, cpuUsPerEvent: 0, wallUsPerEvent: 0 }]
for (const [encoding, level] of measureSpeed ? configurations : []) {
  if (!isEncodingAvailable(encoding)) {
    rows.push({ name: `${encoding} ${level}`, skipped: `not in Node ${process.versions.node}` })
    continue
  }
  await measure(encoding, level) // warm-up
  // Five rounds; CPU and wall time are medians (bytes are the same every round).
  const rounds = []
  for (let round = 0; round < 5; round++) rounds.push(await measure(encoding, level))
  const median = (key) => rounds.map((r) => r[key]).sort((a, b) => a - b)[2]
  const result = { bytes: rounds[0].bytes, cpuUsPerEvent: median('cpuUsPerEvent'), wallUsPerEvent: median('wallUsPerEvent') }
  rows.push({ name: `${encoding} ${level}${defaults[encoding] === level ? ' (default)' : ''}`, ...result, ratio: result.bytes / identityBytes })
}

if (measureSpeed) console.log(`Node ${process.versions.node}, ${EVENTS} events of ${Math.round(identityBytes / EVENTS)} B, a flush per event, medians of 5 rounds\n`)
if (measureSpeed) console.log('| stream | bytes on the wire | × identity | CPU µs / event | wall µs / event |')
if (measureSpeed) console.log('|---|---:|---:|---:|---:|')
for (const row of measureSpeed ? rows : []) {
  if (row.skipped !== undefined) {
    console.log(`| ${row.name} | — | — | — | ${row.skipped} |`)
    continue
  }
  console.log(`| ${row.name} | ${row.bytes.toLocaleString('en')} | ${row.ratio.toFixed(3)} | ${row.cpuUsPerEvent.toFixed(1)} | ${row.wallUsPerEvent.toFixed(1)} |`)
}

// Memory a compressing stream holds: 500 live compressors at the default
// settings, each having sent one event (so its window is allocated), measured
// in a fresh process per algorithm so no row reuses another's freed memory.
async function memoryPerStream (encoding) {
  globalThis.gc?.()
  const before = process.memoryUsage().rss
  const compressors = []
  for (let i = 0; i < 500; i++) {
    const compressor = new FrameCompressor({ encoding }, { frame: async () => true, fail: (error) => { throw error } })
    await compressor.write(events[i % events.length])
    compressors.push(compressor)
  }
  globalThis.gc?.()
  return (process.memoryUsage().rss - before) / compressors.length
}

if (process.env.BENCH_MEMORY_ONLY !== undefined) {
  console.log(JSON.stringify(await memoryPerStream(process.env.BENCH_MEMORY_ONLY)))
} else {
  console.log('\n| encoding (default settings) | memory per compressing stream |')
  console.log('|---|---:|')
  for (const encoding of ['zstd', 'br', 'gzip', 'deflate']) {
    if (!isEncodingAvailable(encoding)) continue
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '20'], { env: { ...process.env, BENCH_MEMORY_ONLY: encoding }, encoding: 'utf8' })
    console.log(`| ${encoding} | ${Math.round(Number(child.stdout.trim().split('\n').at(-1)) / 1024)} KiB |`)
  }
}
