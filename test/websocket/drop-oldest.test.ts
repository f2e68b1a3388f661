import { test } from 'tap'
import type { WebSocket } from 'ws'
import { DropOldestSender } from '../../src/websocket/drop-oldest.js'
import { slowConsumerLimits } from '../../src/slow-consumer.js'

// Bounds where soft and hard are one: every message past it is dropped at once.
const bound = (bytes: number) => slowConsumerLimits({ maxBufferedBytes: bytes, hardMaxBufferedBytes: bytes, overflow: 'drop-oldest' })

// A ws socket reduced to what the sender uses: bytes it holds, and flush callbacks to run by hand.
function fakeSocket () {
  const sent: string[] = []
  const callbacks: Array<() => void> = []
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send (payload: string, _options: unknown, callback: () => void) {
      sent.push(payload)
      socket.bufferedAmount += payload.length
      callbacks.push(callback)
    }
  }
  const flushOne = (): void => {
    const callback = callbacks.shift()
    if (callback === undefined) return
    socket.bufferedAmount -= sent[sent.length - callbacks.length - 1]!.length
    callback()
  }
  return { socket, sent, flushOne, asWs: socket as unknown as WebSocket }
}

test('within the bound messages go at once; past it the newest wait and the oldest are dropped', async (t) => {
  const { sent, flushOne, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, bound(10))
  sender.send('aaaa', false, 4)
  sender.send('bbbb', false, 4)
  t.same(sent, ['aaaa', 'bbbb'])
  for (const message of ['cccc', 'dddd', 'eeee']) sender.send(message, false, 4)
  t.same(sent, ['aaaa', 'bbbb'], 'past the bound nothing more is sent')
  t.equal(sender.queuedBytes, 4, 'ws holds 8 of 10 bytes: only the newest is kept')
  flushOne()
  flushOne()
  t.same(sent, ['aaaa', 'bbbb', 'eeee'], 'cccc and dddd were dropped')
})

test('flushed sends wake the queue, in order', async (t) => {
  const { sent, flushOne, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, bound(8))
  sender.send('aaaa', false, 4)
  sender.send('bbbb', false, 4)
  sender.send('cccc', false, 4)
  t.same(sent, ['aaaa', 'bbbb'])
  flushOne()
  t.same(sent, ['aaaa', 'bbbb', 'cccc'], 'room again: the waiting message goes')
})

test('with none of its own sends in flight it does not wait for a callback that would never come', async (t) => {
  const { socket, sent, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, bound(8))
  // ws is full of bytes that are not ours (pings, pongs): no flush callback of ours is pending.
  socket.bufferedAmount = 8
  sender.send('aaaa', false, 4)
  t.same(sent, ['aaaa'], 'sent anyway: the next flush callback will wake the queue')
  sender.send('bbbb', false, 4)
  t.same(sent, ['aaaa'], 'now one of ours is in flight: the next one waits for it')
})

test('nothing is sent once the socket is no longer open; clear() forgets what waits', async (t) => {
  const { socket, sent, flushOne, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, bound(4))
  sender.send('aaaa', false, 4)
  sender.send('bbbb', false, 4)
  socket.readyState = 2
  flushOne()
  t.same(sent, ['aaaa'])
  sender.clear()
  t.equal(sender.queuedBytes, 0)
})

test('a burst past the soft bound but within the hard one waits whole, and leaves as the client reads', async (t) => {
  const { sent, flushOne, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, slowConsumerLimits({ maxBufferedBytes: 8, hardMaxBufferedBytes: 64, stallTimeout: 60_000, overflow: 'drop-oldest' }))
  t.teardown(() => { sender.clear() })
  for (const message of ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff']) sender.send(message, false, 4)
  t.equal(sender.queuedBytes, 16, 'four wait, none dropped')
  for (let i = 0; i < 6; i++) flushOne()
  t.same(sent, ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff'], 'every message, in order')
})

test('a client above the soft bound for the stall time keeps only what fits it, the newest last', async (t) => {
  const { sent, flushOne, asWs } = fakeSocket()
  const sender = new DropOldestSender(asWs, slowConsumerLimits({ maxBufferedBytes: 8, hardMaxBufferedBytes: 64, stallTimeout: 20, overflow: 'drop-oldest' }))
  t.teardown(() => { sender.clear() })
  for (const message of ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee']) sender.send(message, false, 4)
  t.equal(sender.queuedBytes, 12)
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(sender.queuedBytes, 4, 'ws holds 8 bytes, the bound: only the newest waits')
  flushOne()
  flushOne()
  t.same(sent, ['aaaa', 'bbbb', 'eeee'])
})
