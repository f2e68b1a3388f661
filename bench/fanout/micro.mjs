// Evidence for ANALYSIS.md, in one process, no sockets:
// 1. what the registry's own JavaScript costs per delivery: Registry#send to N
//    subscribers whose write() does nothing, against a plain loop over a Set;
// 2. the V8 heap one AsyncLocalStorage.snapshot() holds (what Registry#add kept
//    per subscriber before 7881f13) against an AsyncResource (what it keeps now).
//
//   npm run build && node --expose-gc bench/fanout/micro.mjs
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import process from 'node:process'
import { Registry } from 'fastify-datastar/registry'

if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc')
const N = 5000
const ROUNDS = 200

function subscriber () {
  return { isClosed: false, lastEventId: undefined, write () { return true }, onClose () {} }
}

function nsPerDelivery (broadcast) {
  for (let i = 0; i < 50; i++) broadcast()
  const started = process.hrtime.bigint()
  for (let i = 0; i < ROUNDS; i++) broadcast()
  return Number(process.hrtime.bigint() - started) / ROUNDS / N
}

const subscribers = Array.from({ length: N }, subscriber)
const set = new Set(subscribers)
const registry = new Registry('micro')
for (const each of subscribers) registry.add(each)
const data = 'x'.repeat(180)
const bytes = Buffer.from(`id: 1\nevent: datastar-patch-signals\ndata: signals ${data}\n\n`)
const loop = []
const viaRegistry = []
for (let i = 0; i < 5; i++) {
  loop.push(nsPerDelivery(() => { for (const each of set) each.write(bytes) }))
  viaRegistry.push(nsPerDelivery(() => { registry.send({ event: 'datastar-patch-signals', data }) }))
}
const median = (values) => values.sort((a, b) => a - b)[values.length >> 1]
console.log(`Node ${process.versions.node}, ${N} subscribers whose write() does nothing, median of 5 × ${ROUNDS} broadcasts:`)
console.log(`  for (const s of set) s.write(bytes):   ${median(loop).toFixed(1)} ns per delivery`)
console.log(`  registry.send(...) (encode once too):  ${median(viaRegistry).toFixed(1)} ns per delivery`)

function heapPerItem (make, count = 20_000) {
  const keep = []
  globalThis.gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < count; i++) keep.push(make())
  globalThis.gc()
  const bytes = (process.memoryUsage().heapUsed - before) / count
  keep.length = 0
  return bytes
}
heapPerItem(() => AsyncLocalStorage.snapshot(), 100)
console.log('V8 heap held per item:')
console.log(`  AsyncLocalStorage.snapshot():  ${Math.round(heapPerItem(() => AsyncLocalStorage.snapshot()))} B`)
console.log(`  new AsyncResource(type):       ${Math.round(heapPerItem(() => new AsyncResource('subscriber')))} B`)
