import t from 'tap'
import { stat } from 'node:fs'
import { slowConsumerLimits, StallClock } from '../src/slow-consumer.js'

const limits = slowConsumerLimits({ maxBufferedBytes: 10, hardMaxBufferedBytes: 100, stallTimeout: 20 })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('the clock runs above the soft bound only, stops on a drain, and calls onStall once when it runs out', async (t) => {
  let stalls = 0
  const clock = new StallClock(limits, () => { stalls++ })
  t.equal(clock.check(10), false, 'at the soft bound: nothing')
  t.equal(clock.running, false)
  t.equal(clock.check(50), false, 'above it: not past the hard bound')
  t.equal(clock.running, true)
  clock.drained(5)
  t.equal(clock.running, false, 'drained below it: stopped')
  clock.check(50)
  clock.drained(30)
  t.equal(clock.running, true, 'still above it: runs on')
  await sleep(60)
  t.equal(stalls, 1)
  t.equal(clock.running, false)
  t.equal(clock.check(101), true, 'past the hard bound: at once')
  clock.stop()
})

t.test('a turn that blocked the loop past the stall time: the drain in the I/O after it still counts', async (t) => {
  let stalls = 0
  const clock = new StallClock(limits, () => { stalls++ })
  clock.check(50)
  // An I/O callback that completes while the loop is blocked: it runs after the expired timer, in the same loop turn.
  stat(import.meta.dirname ?? '.', () => { clock.drained(0) })
  const end = Date.now() + 60
  while (Date.now() < end) { /* the app blocks the event loop past the stall time */ }
  await sleep(40)
  t.equal(stalls, 0, 'not taken for a stall')
  t.equal(clock.running, false)
})
