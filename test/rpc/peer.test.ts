import t from 'tap'
import { Peer, RpcError, type PeerHost } from '../../src/rpc/browser/peer.js'
import { parseFrames, RpcErrorCode, type Frame } from '../../src/rpc/browser/protocol.js'

type Run = PeerHost['run']

function host (run: Run, limits: Partial<PeerHost> = {}): PeerHost {
  return { run, maxInFlight: 64, maxOutboxBytes: 1024 * 1024, timeout: 5_000, ...limits }
}

/**
 * Two peers joined by a link of the test's own: frames go through a queue
 * the test can drop, duplicate or hold, and the link can be cut and restored
 * (each side then resends what the other has not acknowledged).
 */
function pair (runA: Run, runB: Run, limits: Partial<PeerHost> = {}) {
  const a = new Peer(host(runA, limits))
  const b = new Peer(host(runB, limits))
  const log: Array<{ from: 'a' | 'b', frame: Frame }> = []
  const messages: Array<{ from: 'a' | 'b', text: string }> = []
  let up = false
  let duplicate = false
  const deliver = (to: Peer, text: string, from: 'a' | 'b'): void => {
    const frames = parseFrames(text)
    if (frames === null) throw new Error(`bad message ${text}`)
    messages.push({ from, text })
    for (const frame of frames) log.push({ from, frame })
    // A microtask, as a socket's message event comes later than the send.
    queueMicrotask(() => {
      for (const frame of frames) {
        if (!up) return
        to.receive(frame)
        if (duplicate) to.receive(frame)
      }
    })
  }
  const connect = (): void => {
    up = true
    a.attach((text) => { if (up) deliver(b, text, 'a') }, b.received)
    b.attach((text) => { if (up) deliver(a, text, 'b') }, a.received)
  }
  const cut = (): void => {
    up = false
    a.detach()
    b.detach()
  }
  connect()
  return { a, b, log, messages, connect, cut, duplicating: (on: boolean) => { duplicate = on } }
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))

// Resolves once `sent` has a frame (within 2 s).
async function waitForSent (sent: string[]): Promise<void> {
  for (let waited = 0; sent.length === 0 && waited < 2000; waited += 5) await turn()
}

t.test('a call gets its result; a throwing function is a remote error with its message, never a stack', async (t) => {
  const { a } = pair(async () => {}, async (fn, args) => {
    if (fn === 'add') return (args[0] as number) + (args[1] as number)
    throw new Error('nope')
  })
  t.equal(await a.call('add', [1, 2]), 3)
  const error = await a.call('boom', []).catch((caught: RpcError) => caught)
  t.match(error, { name: 'RpcError', code: RpcErrorCode.REMOTE, message: 'nope' })
  t.notMatch(JSON.stringify(error), /at /, 'no stack travels')
})

t.test('an RpcError thrown by the function keeps its code; undefined comes back as null', async (t) => {
  const { a } = pair(async () => {}, async (fn) => {
    if (fn === 'missing') throw new RpcError(RpcErrorCode.NOT_FOUND, 'no function missing')
    return undefined
  })
  await t.rejects(a.call('missing', []), { code: RpcErrorCode.NOT_FOUND })
  t.equal(await a.call('void', []), null)
})

t.test('a timeout rejects, and the callee sees its signal abort', async (t) => {
  let aborted: unknown
  const { a, b } = pair(async () => {}, (_fn, _args, { signal }) => new Promise((resolve) => {
    signal.addEventListener('abort', () => { aborted = signal.reason; resolve('late') })
  }))
  await t.rejects(a.call('slow', [], { timeout: 30 }), { code: RpcErrorCode.TIMEOUT })
  await turn()
  t.match(aborted, { code: RpcErrorCode.TIMEOUT })
  t.equal(b.running, 0, 'nothing left running')
  t.equal(a.pending, 0)
})

t.test('one timer for every pending call: each still times out at its own deadline, and none early', async (t) => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  const { a } = pair(async () => {}, (fn) => fn === 'now' ? 'done' : new Promise(() => {}))
  const before = timeouts()
  const started = Date.now()
  const order: string[] = []
  const late: string[] = []
  const call = (name: string, timeout: number): Promise<void> => a.call(name, [], { timeout }).then(
    () => { order.push(`${name} answered`) },
    (error: RpcError) => {
      order.push(`${name} ${error.code === RpcErrorCode.TIMEOUT ? 'timed out' : error.code}`)
      if (Date.now() - started < timeout) late.push(name)
    })
  const calls = [call('c1000', 1000), call('c200', 200), call('c600', 600), ...Array.from({ length: 7 }, (_, i) => call(`d${i}`, 1500))]
  t.ok(timeouts() - before <= 1, `ten pending calls, ${timeouts() - before} timers`)
  // Answered before the deadline the timer was set for: the timer finds nothing due then, and waits for the next.
  await call('now', 100)
  await Promise.all(calls)
  t.same(order, ['now answered', 'c200 timed out', 'c600 timed out', 'c1000 timed out', ...Array.from({ length: 7 }, (_, i) => `d${i} timed out`)])
  t.same(late, [], 'none rejected before its timeout')
  t.equal(a.pending, 0)
})

t.test('a wall clock set back an hour during a call moves no timeout (deadlines are on the monotonic clock)', async (t) => {
  const never = (): Promise<never> => new Promise(() => {})
  const { a, b } = pair(never, never)
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  // Both sides' calls: each peer keeps its own deadlines.
  const calls = [a.call('slow', [], { timeout: 40 }), b.call('slow', [], { timeout: 40 })].map((call) => call.catch((error: RpcError) => error.code))
  Date.now = () => realNow() - 3_600_000
  let guard: ReturnType<typeof setTimeout> | undefined
  const late = new Promise((resolve) => { guard = setTimeout(() => { resolve('still pending after 2 s') }, 2000) })
  t.same(await Promise.race([Promise.all(calls), late]), [RpcErrorCode.TIMEOUT, RpcErrorCode.TIMEOUT])
  clearTimeout(guard)
})

t.test('a timeout that is not a count of ms rejects at once, and nothing is sent; a fraction is rounded up', async (t) => {
  const link = pair(async () => {}, (_fn, _args, { signal }) => new Promise((resolve) => { signal.addEventListener('abort', () => { resolve(null) }) }))
  for (const timeout of [Number.NaN, -1, Infinity, 2 ** 31, '100' as unknown as number]) {
    await t.rejects(link.a.call('x', [], { timeout }), { code: RpcErrorCode.INVALID_PARAMS, message: /must be a number of ms/ }, String(timeout))
  }
  t.equal(link.messages.length, 0, 'no frame left')
  await t.rejects(link.a.call('x', [], { timeout: 10.2 }), { code: RpcErrorCode.TIMEOUT })
  t.match(link.log[0]?.frame, { t: 'call', deadline: 11 })
})

t.test('an idle peer\'s deadline timer keeps no process alive; a pending call does', async (t) => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  const a = new Peer(host(async () => {}))
  const sent: string[] = []
  a.attach((text) => { sent.push(text) }, 0)
  const before = timeouts()
  const answer = (id: number): void => { a.receive({ t: 'result', s: id, id, value: id }) }
  const first = a.call('x', [], { timeout: 60_000 })
  t.equal(timeouts(), before + 1, 'pending: the timer counts')
  answer(1)
  t.equal(await first, 1)
  // The result armed the standalone ack's timer (a second): that one counts.
  t.equal(timeouts(), before + 1, 'idle: the deadline timer is still set, and keeps nothing alive')
  const second = a.call('x', [], { timeout: 60_000 })
  t.equal(timeouts(), before + 2, 'pending again: it counts again')
  answer(2)
  t.equal(await second, 2)
  a.end(new RpcError(RpcErrorCode.DISCONNECTED, 'gone'))
})

t.test('a caller that ends the peer, or throws, when its call times out leaves the other deadlines right', async (t) => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  const ended = new Peer(host(async () => {}))
  ended.attach(() => {}, 0)
  const before = timeouts()
  const long = ended.call('x', [], { timeout: 3_600_000 }).catch((error: RpcError) => error.code)
  await new Promise<void>((resolve) => {
    ended.start('x', [], { timeout: 20 }, () => {
      ended.end(new RpcError(RpcErrorCode.DISCONNECTED, 'ended by a caller'))
      resolve()
    })
  })
  t.equal(await long, RpcErrorCode.DISCONNECTED)
  t.equal(timeouts(), before, 'no timer armed on an ended peer')

  const throwing = new Peer(host(async () => {}))
  throwing.attach(() => {}, 0)
  // The caller's throw leaves the timer's callback (an uncaught exception): caught here instead of tap's handler.
  const handlers = process.listeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  const uncaught = new Promise<Error>((resolve) => { process.once('uncaughtException', resolve) })
  let restored = false
  const restore = (): void => {
    if (restored) return
    restored = true
    for (const handler of handlers) process.on('uncaughtException', handler)
  }
  t.teardown(restore)
  throwing.start('x', [], { timeout: 20 }, () => { throw new Error('a caller\'s own bug') })
  const next = throwing.call('y', [], { timeout: 60 }).catch((error: RpcError) => error.code)
  t.match(await uncaught, { message: 'a caller\'s own bug' })
  restore()
  t.equal(await next, RpcErrorCode.TIMEOUT, 'the next call still times out')
})

t.test('a call whose deadline is past a timer\'s reach (a peer of its own) runs with no deadline timer, and is answered', async (t) => {
  const sent: string[] = []
  const b = new Peer(host((_fn, _args, { signal }) => new Promise((resolve) => { setTimeout(() => { resolve(signal.aborted ? 'aborted' : 'ran') }, 20) })))
  b.attach((text) => { sent.push(text) }, 0)
  b.receive({ t: 'call', s: 1, id: 1, fn: 'x', deadline: 9e15, args: [] })
  await waitForSent(sent)
  t.match(sent.at(-1), /"value":"ran"/)
})

t.test('ending a peer stops its deadline timer', async (t) => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  // A peer whose frames go nowhere: only its own timers count.
  const a = new Peer(host(async () => {}))
  a.attach(() => {}, 0)
  const before = timeouts()
  const call = a.call('x', [], { timeout: 60_000 })
  t.equal(timeouts(), before + 1)
  a.end(new RpcError(RpcErrorCode.DISCONNECTED, 'gone'))
  await t.rejects(call, { code: RpcErrorCode.DISCONNECTED })
  t.equal(timeouts(), before, 'no timer left behind')
})

t.test('an abort signal cancels the call on both sides', async (t) => {
  let aborted: unknown
  const { a, b } = pair(async () => {}, (_fn, _args, { signal }) => new Promise(() => {
    signal.addEventListener('abort', () => { aborted = signal.reason })
  }))
  const controller = new AbortController()
  const call = a.call('slow', [], { signal: controller.signal })
  await turn()
  t.equal(b.running, 1)
  controller.abort()
  await t.rejects(call, { code: RpcErrorCode.CANCELLED })
  await turn()
  t.match(aborted, { code: RpcErrorCode.CANCELLED })
  t.equal(b.running, 0)
  await t.rejects(a.call('x', [], { signal: controller.signal }), { code: RpcErrorCode.CANCELLED }, 'an aborted signal: rejected at once')
})

t.test('calls in flight across a cut are answered exactly once after the link is back', async (t) => {
  let runs = 0
  const link = pair(async () => {}, async (_fn, args) => { runs++; return args[0] })
  link.cut()
  const calls = [1, 2, 3].map((n) => link.a.call('echo', [n]))
  await turn()
  t.equal(runs, 0, 'nothing crossed the cut link')
  link.connect()
  t.same(await Promise.all(calls), [1, 2, 3])
  t.equal(runs, 3, 'each ran once')
  // The answers crossed, then the link is cut before the acks: on the next connect both sides resend, nothing runs again.
  const more = link.a.call('echo', [4])
  t.equal(await more, 4)
  link.cut()
  link.connect()
  await turn()
  t.equal(runs, 4, 'a resent call is not run again')
})

t.test('a duplicated frame is handled once', async (t) => {
  let runs = 0
  const link = pair(async () => {}, async () => { runs++; return runs })
  link.duplicating(true)
  t.equal(await link.a.call('count', []), 1)
  await turn()
  t.equal(runs, 1)
})

t.test('acknowledged frames are forgotten: a cut after the acks resends nothing', async (t) => {
  const link = pair(async () => {}, async () => 'ok')
  await link.a.call('x', [])
  await turn()
  const before = link.log.length
  link.cut()
  link.connect()
  await turn()
  t.same(link.log.slice(before).map((entry) => entry.frame.t), [], 'no frame resent')
})

t.test('a side with nothing to send back acknowledges on its own: after 32 frames at once, else within a second', async (t) => {
  const link = pair(async () => {}, (fn, args) => args[0])
  const acks = (): number[] => link.log.filter((entry) => entry.from === 'a' && entry.frame.t === 'ack').map((entry) => (entry.frame as { ack: number }).ack)
  await Promise.all(Array.from({ length: 40 }, (_, index) => link.a.call('echo', [index])))
  t.same(acks(), [32], 'the 32nd result is acknowledged at once')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(acks(), [32], 'the rest wait for a call going back to carry their ack')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.same(acks(), [32, 40], 'the rest within a second')
})

t.test('limits: calls in flight and bytes kept for a resend, each an overloaded error', async (t) => {
  const never = (): Promise<unknown> => new Promise(() => {})
  const link = pair(async () => {}, never, { maxInFlight: 2 })
  const first = link.a.call('x', [])
  const second = link.a.call('x', [])
  await t.rejects(link.a.call('x', []), { code: RpcErrorCode.OVERLOADED })
  link.a.end(new RpcError(RpcErrorCode.EXPIRED, 'gone'))
  link.b.end(new RpcError(RpcErrorCode.EXPIRED, 'gone'))
  await t.rejects(first, { code: RpcErrorCode.EXPIRED })
  await t.rejects(second, { code: RpcErrorCode.EXPIRED })
  await t.rejects(link.a.call('x', []), { code: RpcErrorCode.EXPIRED }, 'after end(), at once')

  const small = pair(async () => {}, never, { maxOutboxBytes: 100 })
  small.cut()
  const kept = small.a.call('x', ['y'.repeat(200)], { timeout: 50 })
  await t.rejects(small.a.call('x', []), { code: RpcErrorCode.OVERLOADED }, 'the outbox is full')
  await t.rejects(kept, { code: RpcErrorCode.TIMEOUT })
})

t.test('the callee refuses calls past its own in-flight limit', async (t) => {
  const never = (): Promise<unknown> => new Promise(() => {})
  const a = new Peer(host(async () => {}, { maxInFlight: 10 }))
  const b = new Peer(host(never, { maxInFlight: 1 }))
  a.attach((text) => { queueMicrotask(() => { for (const frame of parseFrames(text) ?? []) b.receive(frame) }) }, 0)
  b.attach((text) => { queueMicrotask(() => { for (const frame of parseFrames(text) ?? []) a.receive(frame) }) }, 0)
  a.call('x', [], { timeout: 100 }).catch(() => {})
  await t.rejects(a.call('x', []), { code: RpcErrorCode.OVERLOADED })
  b.end(new RpcError(RpcErrorCode.EXPIRED, 'done'))
  a.end(new RpcError(RpcErrorCode.EXPIRED, 'done'))
})

t.test('the frames of one turn leave in two messages each way (the first at once), never one past the other side\'s bound', async (t) => {
  const link = pair(async () => {}, (fn, args) => args[0])
  const results = await Promise.all(Array.from({ length: 64 }, (_, index) => link.a.call('echo', [index])))
  t.same(results, Array.from({ length: 64 }, (_, index) => index))
  const numbered = link.messages
    .map(({ from, text }) => ({ from, frames: (parseFrames(text) ?? []).filter((frame) => frame.t !== 'ack').length }))
    .filter((message) => message.frames > 0)
  // The first frame of a turn leaves at once, the rest together.
  t.same(numbered, [{ from: 'a', frames: 1 }, { from: 'a', frames: 63 }, { from: 'b', frames: 1 }, { from: 'b', frames: 63 }], '64 calls in two messages, 64 results in two')

  const bound = 1024
  const small = pair(async () => {}, (fn, args) => args[0], { maxFrameBytes: bound })
  const text = 'x'.repeat(100)
  t.same(await Promise.all(Array.from({ length: 20 }, () => small.a.call('echo', [text]))), Array.from({ length: 20 }, () => text))
  const sizes = small.messages.map((message) => Buffer.byteLength(message.text))
  t.ok(sizes.every((size) => size <= bound), `every message within ${bound} bytes: ${sizes.join(', ')}`)
  t.ok(small.messages.filter((message) => message.from === 'a').length > 1, 'the calls were split')
})

t.test('a frame out of order or of an unknown kind is refused', async (t) => {
  const peer = new Peer(host(async () => {}))
  t.equal(peer.receive({ t: 'result', s: 5, id: 1 }), false, 'a gap: frames were lost, the socket is closed')
  t.equal(peer.receive({ t: 'bye' }), false, 'not the peer\'s to handle')
  t.equal(parseFrames('{"t":"call","s":1,"id":1,"fn":"x"}'), null, 'a call without args')
  t.equal(parseFrames('[1]'), null)
  t.equal(parseFrames('[]'), null, 'an empty batch')
  t.equal(parseFrames('[{"t":"ack","ack":1},{"t":"bye"}]'), null, 'a bye travels alone')
  t.equal(parseFrames('[{"t":"hello","v":1,"ack":0}]'), null, 'so does the handshake')
  t.equal(parseFrames('[{"t":"ack","ack":1},{"t":"call","s":1,"id":1,"fn":"x"}]'), null, 'one bad frame spoils the batch')
  t.equal(parseFrames('not json'), null)
  t.same(parseFrames('{"t":"bye","extra":1}'), [{ t: 'bye' }])
  t.same(parseFrames('[{"t":"ack","ack":1},{"t":"cancel","s":2,"id":1,"reason":"x"}]'), [{ t: 'ack', ack: 1 }, { t: 'cancel', s: 2, id: 1, reason: 'x' }], 'a batch, in order')
})

t.test('a callee cannot answer with the caller\'s own verdicts: a timeout or an expiry it claims is a remote error', async (t) => {
  const { a } = pair(async () => {}, async (fn) => { throw new RpcError(fn === 'spoof' ? RpcErrorCode.TIMEOUT : RpcErrorCode.INVALID_PARAMS, 'as the callee says') })
  await t.rejects(a.call('spoof', []), { code: RpcErrorCode.REMOTE, message: 'as the callee says' })
  await t.rejects(a.call('params', []), { code: RpcErrorCode.INVALID_PARAMS }, 'a code a callee may give')
})
