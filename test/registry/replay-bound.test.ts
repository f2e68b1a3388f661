/**
 * Replays go through the slow-consumer bound: a subscriber that missed more
 * than `maxReplayBytes` is resynced, never handed the whole backlog in one
 * write; a long-poll answer stops at the bound and its cursor fetches the rest.
 */
import t, { type Test } from 'tap'
import { Registry } from '../../src/registry/registry.js'
import type { Subscriber } from '../../src/registry/subscriber.js'
import { SSEParser } from '../../src/sse/parser.js'

class Recorder implements Subscriber {
  chunks: Array<string | Buffer> = []
  isClosed = false
  lastEventId: string | undefined
  constructor (lastEventId?: string) { this.lastEventId = lastEventId }
  write (encoded: string | Buffer): void { this.chunks.push(encoded) }
  onClose (): void {}
}

const counter = (id: string): number => Number(id.split('-').at(-1))

/** A registry holding `count` events of about `size` bytes each; returns it and the ids. */
async function filled (t: Test, count: number, size: number, maxReplayBytes?: number) {
  const resyncs: string[] = []
  const registry = new Registry<Recorder>('feed', { replay: 1000, maxReplayBytes, onResync: (_subscriber, lastEventId) => { resyncs.push(lastEventId) } })
  t.teardown(() => registry.close())
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push(await registry.patchSignals({ i, pad: 'p'.repeat(size) }))
  return { registry, ids, resyncs }
}

t.test('a replay within maxReplayBytes is written; one past it is a resync, nothing written', async (t) => {
  const { registry, ids, resyncs } = await filled(t, 20, 1000, 10 * 1024)
  const near = new Recorder(ids[14])
  registry.add(near)
  t.equal(near.chunks.length, 1, 'five missed events, one write')
  t.same(new SSEParser().push(near.chunks[0]!.toString()).map((event) => counter(event.id)), [16, 17, 18, 19, 20])
  const far = new Recorder(ids[0])
  registry.add(far)
  t.same(far.chunks, [], 'nineteen events of 1 KiB are past the 10 KiB bound: not written')
  t.same(resyncs, [ids[0]], 'resynced instead')
  t.equal(registry.size, 2, 'and still subscribed for live events')
})

t.test('the default bound is the stream soft bound, 1 MiB', async (t) => {
  const { registry, ids, resyncs } = await filled(t, 40, 32 * 1024)
  const recent = new Recorder(ids[20])
  registry.add(recent)
  t.equal(resyncs.length, 0, '19 × 32 KiB fit')
  t.equal(recent.chunks.length, 1)
  const old = new Recorder(ids[0])
  registry.add(old)
  t.same(resyncs, [ids[0]], '39 × 32 KiB do not')
  t.throws(() => new Registry('bad', { maxReplayBytes: 0 }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION', message: /maxReplayBytes/ })
})

t.test('long-poll: an old cursor gets pages of at most the bound; following the cursors gets every event once, in order', async (t) => {
  const { registry, ids } = await filled(t, 30, 1000, 4 * 1024)
  let cursor = ids[0] as string
  const received: number[] = []
  // Bounded: 30 events at 3 or 4 per page.
  for (let page = 0; page < 30 && cursor !== ids[29]; page++) {
    const answer = await registry.poll(cursor, { timeout: 50 })
    if (answer.status !== 'events') throw new Error(`expected events, got ${answer.status}`)
    t.ok(answer.events.length <= 4 * 1024, `page ${page} within the bound (${answer.events.length} bytes)`)
    received.push(...new SSEParser().push(answer.events.toString()).map((event) => counter(event.id)))
    cursor = answer.cursor
  }
  t.same(received, Array.from({ length: 29 }, (_, i) => i + 2), 'events 2 to 30, each once')
})

t.test('long-poll: a single event larger than the bound still goes out alone', async (t) => {
  const { registry, ids } = await filled(t, 3, 8 * 1024, 1024)
  const answer = await registry.poll(ids[0], { timeout: 50 })
  t.equal(answer.status, 'events')
  t.equal(answer.cursor, ids[1], 'one event, and the cursor after it')
})
