import t from 'tap'
import { ReplayRing, START_CURSOR, type RingEvent } from '../../src/registry/ring.js'

const event = (id: string): RingEvent => ({ id, key: undefined, bytes: Buffer.from(`id: ${id}\n\n`) })

t.test('the ring keeps the newest events in order and knows what it can replay', async (t) => {
  const ring = new ReplayRing(3)
  t.equal(ring.after('1'), undefined, 'nothing known yet')
  for (const id of ['1', '2', '3', '4', '5']) ring.push(event(id))
  t.equal(ring.size, 3)
  t.equal(ring.oldest?.id, '3')
  t.same(ring.after('4')?.map((e) => e.id), ['5'], 'the newest event is last')
  t.same(ring.after('3')?.map((e) => e.id), ['4', '5'])
  t.same(ring.after('5'), [])
  t.same(ring.after('2')?.map((e) => e.id), ['3', '4', '5'], 'a client that saw the last evicted event missed exactly the ring')
  t.equal(ring.after('1'), undefined, 'older than that: not replayable')
  t.equal(ring.after('9'), undefined, 'unknown')
  ring.clear()
  t.equal(ring.size, 0, 'cleared: empty')
  t.equal(ring.after('5'), undefined, 'no replay from an event before the clear')
  t.same(ring.after(START_CURSOR), [], 'the start cursor waits for the next event, as on a new ring')
  ring.push(event('6'))
  t.same(ring.after(START_CURSOR)?.map((e) => e.id), ['6'], 'and then gets every event since')
  const off = new ReplayRing(0)
  off.push(event('1'))
  t.equal(off.size, 0)
  t.equal(off.after('1'), undefined)
})
