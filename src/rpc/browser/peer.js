// @ts-check
/**
 * One side of an RPC session, the same in the browser and on the server:
 * calls out and their deadlines, calls in and their cancellation, and the
 * numbered frames that make both survive a reconnect exactly once. The
 * socket comes and goes (`attach`/`detach`); the peer outlives it. This file
 * runs in the browser as it is: it imports only the protocol.
 */
import { RpcErrorCode } from './protocol.js'

/** @typedef {import('./protocol.js').Frame} Frame */
/** @typedef {import('./protocol.js').CallFrame} CallFrame */
/** @typedef {import('./protocol.js').ResultFrame} ResultFrame */
/** @typedef {import('./protocol.js').WireError} WireError */

/**
 * Options of one outgoing call: give up after `timeout` ms, or when `signal`
 * aborts (either way the callee is told, and sees its own signal abort).
 * @typedef {{ timeout?: number, signal?: AbortSignal }} CallOptions
 */
/**
 * What a peer needs from the side that owns it, shared by all its peers:
 * `run` runs an incoming call for `owner` (the peer's owner: a session, a
 * client): its result, or a promise of it; what it throws or rejects with is
 * the error (an `RpcError` travels with its code, anything else as a remote
 * error with its message); the calls
 * allowed in flight each way; the characters of frames kept for a resend; the
 * default timeout of outgoing calls, in ms; the largest message the other
 * side takes, in bytes (its WebSocket `maxPayload`; none by default); and
 * `defer`, which runs a function once the current turn's frames are out of
 * the caller's code (the frames of one turn leave as one batch; by default a
 * microtask, the server waits for the turn's I/O).
 * @typedef {{
 *   run: (fn: string, args: unknown[], context: CallContext, owner: any) => unknown,
 *   maxInFlight: number,
 *   maxOutboxBytes: number,
 *   timeout: number,
 *   maxFrameBytes?: number,
 *   defer?: (flush: () => void) => void
 * }} PeerHost
 */
/**
 * What a caller hears once: an error, or none and the value.
 * @typedef {(error: RpcError | undefined, value?: unknown) => void} Settle
 */
/**
 * A call waiting for its result: `deadline` is when it times out (`performance.now()` ms); `fn` and `timeout` name it then.
 * @typedef {{
 *   settle: Settle,
 *   deadline: number,
 *   fn: string,
 *   timeout: number,
 *   signal: AbortSignal | undefined,
 *   onAbort: (() => void) | undefined
 * }} Pending
 */
/** @typedef {{ s: number, text: string }} Kept */

// The codes a callee may answer with; any other (a timeout, an expiry: the caller's own verdicts) is a remote error.
/** @type {Set<string>} */
const CALLEE_CODES = new Set([RpcErrorCode.REMOTE, RpcErrorCode.NOT_FOUND, RpcErrorCode.INVALID_PARAMS, RpcErrorCode.OVERLOADED])

// A standalone ack waits this long for a frame going the other way to carry it: long enough for the next
// call to a page (callAll after callAll) to carry it instead; a late ack only keeps a few frames for a resend.
const ACK_DELAY = 1000
// ...or until this many frames wait for one.
const ACK_EVERY = 32
/** The longest timeout of a call, in ms: the longest delay setTimeout takes (2^31 - 1, 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1

// Deadlines are kept on the monotonic clock: a wall clock set back or forward moves no timeout.
const monotonicNow = () => performance.now()

// A turn's batch leaves in a microtask: a resolved promise's, which Node runs without queueMicrotask's async-hooks resource.
const RESOLVED = Promise.resolve()
/** @param {() => void} flush */
const afterMicrotasks = (flush) => { RESOLVED.then(flush) }

/** An RPC failure: a code from `RpcErrorCode` (or the remote function's own) and a message. */
export class RpcError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor (code, message) {
    super(message)
    this.name = 'RpcError'
    /** @readonly */
    this.code = code
  }
}

/**
 * What an incoming call's function gets after its arguments: `signal`
 * aborts when the caller gives up (timeout, cancel, the session's end). The
 * signal, and the deadline's timer, are made only if the function reads it.
 */
export class CallContext {
  /** @type {AbortController | null} */
  #controller = null
  /** @type {RpcError | undefined} */
  #reason
  #deadlineAt
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer

  /** @param {number | undefined} deadline ms the caller gives the call */
  constructor (deadline) {
    this.#deadlineAt = deadline === undefined ? Infinity : monotonicNow() + deadline
  }

  /**
   * Aborted when the caller gives up.
   * @returns {AbortSignal}
   */
  get signal () {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) {
        this.#controller.abort(this.#reason)
      } else if (this.#deadlineAt - monotonicNow() <= MAX_TIMEOUT_MS) {
        // The caller's deadline holds here too (one past a timer's reach, from a peer of its own, is none).
        this.#timer = setTimeout(() => { this.abort(new RpcError(RpcErrorCode.TIMEOUT, 'the caller\'s deadline passed')) }, Math.max(0, this.#deadlineAt - monotonicNow()))
      }
    }
    return this.#controller.signal
  }

  /** True once the caller gave up (its deadline passed, or it cancelled). */
  get aborted () {
    return this.#reason !== undefined || this.#deadlineAt < monotonicNow()
  }

  /**
   * The caller gave up (internal: the peer calls it).
   * @param {RpcError} reason
   */
  abort (reason) {
    if (this.#reason !== undefined) return
    this.#reason = reason
    clearTimeout(this.#timer)
    this.#controller?.abort(reason)
  }
}

/**
 * One side of a session.
 * @example
 * const peer = new Peer({ run: (fn, args) => functions[fn](...args), maxInFlight: 64, maxOutboxBytes: 1 << 20, timeout: 30_000 })
 * peer.attach((text) => socket.send(text), 0)
 * const sum = await peer.call('add', [1, 2])
 */
export class Peer {
  /** @type {PeerHost} */
  #host
  /** @type {unknown} */
  #owner
  // Gets each message and the highest frame number in it (0: acks only), the `id:` of an SSE event.
  /** @type {((text: string, top: number) => void) | null} */
  #send = null
  // Frames sent (or to send), kept until the other side acknowledges them.
  /** @type {Kept[]} */
  #outbox = []
  #outboxBytes = 0
  #sent = 0
  // The highest frame number received in order, the highest acknowledged to the other side, and the standalone ack's timer.
  #received = 0
  #acknowledgedOut = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #ackTimer
  #nextCallId = 1
  // Made on first use: an idle session has no calls.
  /** @type {Map<number, Pending> | null} */
  #pending = null
  // One timer for every pending call's deadline, set for the earliest (not a timer per call: a call to
  // every session would make and clear one per session), and when it fires (Infinity: none).
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #deadlineTimer
  #deadlineTimerAt = Infinity
  // Incoming calls running, by id: their contexts (a cancel reaches the function through them).
  /** @type {Map<number, CallContext> | null} */
  #running = null
  /** @type {RpcError | null} */
  #ended = null
  // Once a frame left this turn, the turn's next ones wait in a batch, sent as one message when the turn is over.
  #turnBusy = false
  /** @type {string[] | null} */
  #batch = null
  #batchChars = 0
  #batchTop = 0

  /**
   * @param {PeerHost} host what runs incoming calls, and the limits (shared by the owner's peers)
   * @param {unknown} [owner] handed to `host.run` with each incoming call
   */
  constructor (host, owner) {
    this.#host = host
    this.#owner = owner
  }

  /** The highest frame number received in order (what `hello`/`welcome` acknowledge). */
  get received () {
    return this.#received
  }

  /** Calls waiting for a result. */
  get pending () {
    return this.#pending?.size ?? 0
  }

  /** Calls from the other side still running here. */
  get running () {
    return this.#running?.size ?? 0
  }

  /**
   * A socket is open: `peerReceived` is the last frame number the other side
   * has; what came after it is sent again, in order.
   * @param {(text: string, top: number) => void} send gets each message and the highest frame number in it
   * @param {number} peerReceived
   */
  attach (send, peerReceived) {
    this.#send = send
    this.#acknowledged(peerReceived)
    // The hello or welcome that opened this socket told the other side what we have.
    this.#acknowledgedOut = this.#received
    for (const kept of this.#outbox) this.#transmit(kept.text, kept.s)
  }

  /** The socket is gone: frames are kept for the next one. */
  detach () {
    this.#send = null
    // What waited is in the outbox: the next socket gets it.
    this.#batch = null
    this.#batchTop = 0
    clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
  }

  /**
   * Calls `fn` on the other side with `args` (JSON values, or their JSON text
   * when encoded once for many peers); resolves with its result, or rejects
   * with an `RpcError`.
   * @param {string} fn
   * @param {unknown[] | string} args
   * @param {CallOptions} [options]
   * @returns {Promise<unknown>}
   */
  call (fn, args, options = {}) {
    return new Promise((resolve, reject) => {
      this.start(fn, args, options, (error, value) => { if (error === undefined) resolve(value); else reject(error) })
    })
  }

  /**
   * `call()` for a caller of many peers: `settle` hears the outcome once (at
   * once when the call cannot start), with no promise per call.
   * @param {string} fn
   * @param {unknown[] | string} args
   * @param {CallOptions} options
   * @param {Settle} settle
   */
  start (fn, args, options, settle) {
    if (this.#ended !== null) return settle(this.#ended)
    if (options.signal?.aborted === true) return settle(new RpcError(RpcErrorCode.CANCELLED, `call to ${fn} was cancelled`))
    const pendingCalls = (this.#pending ??= new Map())
    if (pendingCalls.size >= this.#host.maxInFlight) {
      return settle(new RpcError(RpcErrorCode.OVERLOADED, `${this.#host.maxInFlight} calls are already in flight`))
    }
    if (this.#outboxBytes >= this.#host.maxOutboxBytes) {
      return settle(new RpcError(RpcErrorCode.OVERLOADED, `${this.#outboxBytes} characters wait for the other side already`))
    }
    const timeout = callTimeout(options.timeout ?? this.#host.timeout, fn)
    if (timeout instanceof RpcError) return settle(timeout)
    const id = this.#nextCallId++
    const frame = `"call","id":${id},"fn":${JSON.stringify(fn)},"deadline":${timeout},"args":${typeof args === 'string' ? args : JSON.stringify(args)}}`
    // The other side would close the socket, and the frame would be resent on every reconnect.
    if (this.#tooLarge(frame)) return settle(new RpcError(RpcErrorCode.OVERLOADED, `the call to ${fn} is larger than the ${this.#host.maxFrameBytes} bytes the other side takes`))
    /** @type {Pending} */
    const pending = { settle, deadline: monotonicNow() + timeout, fn, timeout, signal: options.signal, onAbort: undefined }
    pendingCalls.set(id, pending)
    if (pending.deadline < this.#deadlineTimerAt) this.#armDeadlines(pending.deadline)
    // A pending call keeps a Node process alive (an idle peer's timer does not: see #forget).
    else this.#deadlineTimer?.ref?.()
    if (options.signal !== undefined) {
      pending.onAbort = () => { this.#giveUp(id, RpcErrorCode.CANCELLED, `call to ${fn} was cancelled`) }
      options.signal.addEventListener('abort', pending.onAbort, { once: true })
    }
    this.#push(frame)
  }

  /**
   * A frame from the socket; false when it is not one this side accepts (close the socket).
   * @param {Frame} frame
   * @returns {boolean}
   */
  receive (frame) {
    switch (frame.t) {
      case 'ack':
        this.#acknowledged(frame.ack)
        return true
      case 'call':
      case 'result':
      case 'cancel':
        // Each numbered frame carries the other side's ack: no frame of its own needed.
        if (frame.a !== undefined) this.#acknowledged(frame.a)
        // Each number once: a frame sent again after a reconnect is not handled twice.
        if (frame.s !== this.#received + 1) return frame.s <= this.#received
        this.#received = frame.s
        this.#scheduleAck()
        if (frame.t === 'call') this.#runCall(frame)
        else if (frame.t === 'result') this.#settle(frame)
        else this.#stopRunning(frame.id, new RpcError(frame.reason, 'the caller gave up'))
        return true
      default:
        return false
    }
  }

  /**
   * Ends the peer: every pending call rejects with `error`, every running
   * incoming call sees its signal abort; later calls reject at once.
   * @param {RpcError} error
   */
  end (error) {
    if (this.#ended !== null) return
    this.#ended = error
    clearTimeout(this.#deadlineTimer)
    this.#deadlineTimerAt = Infinity
    for (const id of [...(this.#pending?.keys() ?? [])]) this.#giveUp(id, error.code, error.message, false)
    for (const id of [...(this.#running?.keys() ?? [])]) this.#stopRunning(id, error)
    this.#outbox.length = 0
    this.#outboxBytes = 0
    this.detach()
  }

  /** @param {CallFrame} frame */
  #runCall (frame) {
    const running = (this.#running ??= new Map())
    if (running.size >= this.#host.maxInFlight) {
      this.#answer(frame.id, { code: RpcErrorCode.OVERLOADED, message: `${this.#host.maxInFlight} calls are already running` })
      return
    }
    const context = new CallContext(frame.deadline)
    running.set(frame.id, context)
    /** @type {unknown} */
    let result
    try {
      result = this.#host.run(frame.fn, frame.args, context, this.#owner)
    } catch (error) {
      if (this.#finished(frame.id, context)) this.#answer(frame.id, wireError(error))
      return
    }
    // A function that answered at once (add, echo) is answered at once: no promise in between.
    if (typeof (/** @type {{ then?: unknown }} */ (result))?.then !== 'function') {
      if (this.#finished(frame.id, context)) this.#answer(frame.id, undefined, result)
      return
    }
    /** @type {Promise<unknown>} */ (result).then(
      (value) => { if (this.#finished(frame.id, context)) this.#answer(frame.id, undefined, value) },
      (error) => { if (this.#finished(frame.id, context)) this.#answer(frame.id, wireError(error)) }
    )
  }

  /**
   * True when the call is still wanted: not cancelled, the peer not ended meanwhile.
   * @param {number} id
   * @param {CallContext} context
   */
  #finished (id, context) {
    if (this.#running?.get(id) !== context) return false
    this.#running.delete(id)
    // Past the caller's deadline nobody waits for the answer: its cancel is on the way.
    return !context.aborted
  }

  /**
   * Sends a call's result, or its error.
   * @param {number} id
   * @param {WireError | undefined} error
   * @param {unknown} [value]
   */
  #answer (id, error, value) {
    const frame = error === undefined
      ? `"result","id":${id},"value":${value === undefined ? 'null' : JSON.stringify(value)}}`
      : `"result","id":${id},"error":${JSON.stringify(error)}}`
    this.#push(this.#tooLarge(frame) ? `"result","id":${id},"error":${JSON.stringify({ code: RpcErrorCode.REMOTE, message: `the result is larger than the ${this.#host.maxFrameBytes} bytes the caller takes` })}}` : frame)
  }

  /**
   * True when a frame would pass the other side's `maxPayload` (exact bytes counted only near the bound).
   * @param {string} frame
   */
  #tooLarge (frame) {
    const max = this.#host.maxFrameBytes
    // A frame's prefix (numbers, ack) is under 64 characters; UTF-8 takes at most 3 bytes per character.
    if (max === undefined || (frame.length + 64) * 3 <= max) return false
    return new TextEncoder().encode(frame).length + 64 > max
  }

  /**
   * The caller gave up (cancel, deadline, the end): the function sees its signal abort, and its answer is dropped.
   * @param {number} id
   * @param {RpcError} reason
   */
  #stopRunning (id, reason) {
    const context = this.#running?.get(id)
    if (context === undefined) return
    this.#running?.delete(id)
    context.abort(reason)
  }

  /** @param {ResultFrame} frame */
  #settle (frame) {
    const pending = this.#pending?.get(frame.id)
    if (pending === undefined) return
    this.#forget(frame.id, pending)
    if (frame.error !== undefined) pending.settle(new RpcError(CALLEE_CODES.has(frame.error.code) ? frame.error.code : RpcErrorCode.REMOTE, frame.error.message))
    else pending.settle(undefined, frame.value)
  }

  /**
   * @param {number} id
   * @param {string} code
   * @param {string} message
   * @param {boolean} [tell] tell the other side, which stops the function if it still runs
   */
  #giveUp (id, code, message, tell = true) {
    const pending = this.#pending?.get(id)
    if (pending === undefined) return
    this.#forget(id, pending)
    if (tell) this.#push(`"cancel","id":${id},"reason":${JSON.stringify(code)}}`)
    pending.settle(new RpcError(code, message))
  }

  /**
   * @param {number} id
   * @param {Pending} pending
   */
  #forget (id, pending) {
    this.#pending?.delete(id)
    // The deadline timer stays for the next call; with none pending it keeps no Node process alive (browsers have no unref).
    if (this.#pending?.size === 0) this.#deadlineTimer?.unref?.()
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
  }

  /**
   * Sets the deadline timer to fire at `at` (`performance.now()` ms). A call settled before its deadline
   * leaves the timer as it is: the next call usually has a later deadline, and needs no timer of its own.
   * @param {number} at
   */
  #armDeadlines (at) {
    clearTimeout(this.#deadlineTimer)
    this.#deadlineTimerAt = at
    this.#deadlineTimer = setTimeout(this.#expireCalls, Math.max(1, at - monotonicNow()))
  }

  // The deadline timer fired: calls past their deadline time out; the timer is set again for the earliest left.
  #expireCalls = () => {
    this.#deadlineTimer = undefined
    this.#deadlineTimerAt = Infinity
    const now = monotonicNow()
    try {
      for (const [id, pending] of this.#pending ?? []) {
        if (pending.deadline <= now) this.#giveUp(id, RpcErrorCode.TIMEOUT, `call to ${pending.fn} timed out after ${pending.timeout} ms`)
      }
    } finally {
      // The earliest deadline left, even when a caller's settle threw, started calls or ended the peer (none left then).
      let next = Infinity
      for (const pending of this.#pending?.values() ?? []) if (pending.deadline < next) next = pending.deadline
      if (next < this.#deadlineTimerAt) this.#armDeadlines(next)
    }
  }

  /**
   * Numbers a frame, keeps it until acknowledged, and sends it if a socket is
   * attached. `rest` is the frame's JSON after `{"t":`, its number and its
   * ack (the frames differ only in a few fields: joined as text, not
   * stringified whole). The ack it carries makes a standalone one unneeded.
   * @param {string} rest
   */
  #push (rest) {
    if (this.#ended !== null) return
    const s = ++this.#sent
    const text = `{"s":${s},"a":${this.#received},"t":${rest}`
    this.#outbox.push({ s, text })
    this.#outboxBytes += text.length
    if (this.#send === null) return
    this.#acknowledgedOut = this.#received
    this.#transmit(text, s)
  }

  /**
   * Sends a frame: at once when it is the turn's first (a lone call waits for
   * nothing), else with the turn's others in one batch when the turn is over;
   * a batch that would pass the other side's message bound leaves first.
   * @param {string} text
   * @param {number} s its number (0: an ack)
   */
  #transmit (text, s) {
    if (!this.#turnBusy) {
      this.#turnBusy = true
      const defer = this.#host.defer ?? afterMicrotasks
      defer(this.#endTurn)
      this.#send?.(text, s)
      return
    }
    const max = this.#host.maxFrameBytes
    if (this.#batch !== null && max !== undefined && (this.#batchChars + text.length) * 3 > max) this.#flush()
    if (s > 0) this.#batchTop = s
    if (this.#batch === null) {
      this.#batch = [text]
      this.#batchChars = text.length + 2
    } else {
      this.#batch.push(text)
      this.#batchChars += text.length + 1
    }
  }

  #endTurn = () => {
    this.#turnBusy = false
    this.#flush()
  }

  // Sends the waiting frames: one alone as it is, more as an array.
  #flush () {
    const batch = this.#batch
    if (batch === null || this.#send === null) return
    this.#batch = null
    const top = this.#batchTop
    this.#batchTop = 0
    this.#send(batch.length === 1 ? /** @type {string} */ (batch[0]) : '[' + batch.join(',') + ']', top)
  }

  /** @param {number} upTo */
  #acknowledged (upTo) {
    const outbox = this.#outbox
    let count = 0
    while (count < outbox.length && /** @type {Kept} */ (outbox[count]).s <= upTo) {
      this.#outboxBytes -= /** @type {Kept} */ (outbox[count]).text.length
      count++
    }
    if (count > 0) outbox.splice(0, count)
  }

  // A standalone ack only when no frame going back carried it within ACK_DELAY, or ACK_EVERY frames wait for one.
  #scheduleAck () {
    if (this.#received - this.#acknowledgedOut >= ACK_EVERY) {
      this.#sendAck()
      return
    }
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined
      if (this.#acknowledgedOut < this.#received) this.#sendAck()
    }, ACK_DELAY)
  }

  #sendAck () {
    if (this.#send === null) return
    this.#acknowledgedOut = this.#received
    this.#transmit(`{"t":"ack","ack":${this.#received}}`, 0)
  }
}

/**
 * A call's timeout as the wire carries it: whole ms (a fraction rounded up)
 * from 0 to `MAX_TIMEOUT_MS`; anything else is an invalid-params error.
 * @param {unknown} timeout
 * @param {string} fn the function called, for the message
 * @returns {number | RpcError}
 * @example callTimeout(1500.5, 'add') // 1501
 */
export function callTimeout (timeout, fn) {
  const ms = typeof timeout === 'number' ? Math.ceil(timeout) : NaN
  if (ms >= 0 && ms <= MAX_TIMEOUT_MS) return ms
  return new RpcError(RpcErrorCode.INVALID_PARAMS, `the timeout of a call to ${fn} must be a number of ms from 0 to ${MAX_TIMEOUT_MS}, not ${String(timeout)}`)
}

/**
 * What an error becomes on the wire: an RpcError keeps its code; anything
 * else is a remote error with its message.
 * @param {unknown} error
 * @returns {WireError}
 */
function wireError (error) {
  if (error instanceof RpcError) return { code: error.code, message: error.message }
  const message = error instanceof Error ? error.message : String(error)
  return { code: RpcErrorCode.REMOTE, message }
}
