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
/** @typedef {import('./protocol.js').NumberedFrame} NumberedFrame */
/** @typedef {import('./protocol.js').CallFrame} CallFrame */
/** @typedef {import('./protocol.js').ResultFrame} ResultFrame */
/** @typedef {import('./protocol.js').WireError} WireError */

/**
 * Options of one outgoing call: give up after `timeout` ms, or when `signal`
 * aborts (either way the callee is told, and sees its own signal abort).
 * @typedef {{ timeout?: number, signal?: AbortSignal }} CallOptions
 */
/**
 * What a peer needs from the side that owns it: `run` runs an incoming call
 * (resolving with its result, or rejecting: an `RpcError` travels with its
 * code, anything else as a remote error with its message); the calls allowed
 * in flight each way; the bytes of frames kept for a resend; the default
 * timeout of outgoing calls, in ms.
 * @typedef {{
 *   run: (fn: string, args: unknown[], signal: AbortSignal) => Promise<unknown>,
 *   maxInFlight: number,
 *   maxOutboxBytes: number,
 *   timeout: number
 * }} PeerHost
 */
/**
 * @typedef {{
 *   resolve: (value: unknown) => void,
 *   reject: (error: RpcError) => void,
 *   timer: ReturnType<typeof setTimeout> | undefined,
 *   signal: AbortSignal | undefined,
 *   onAbort: (() => void) | undefined
 * }} Pending
 */
/** @typedef {{ controller: AbortController, deadline: ReturnType<typeof setTimeout> | undefined }} Running */
/** @typedef {{ frame: NumberedFrame, text: string }} Kept */

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
 * One side of a session.
 * @example
 * const peer = new Peer({ run: (fn, args) => functions[fn](...args), maxInFlight: 64, maxOutboxBytes: 1 << 20, timeout: 30_000 })
 * peer.attach((text) => socket.send(text), 0)
 * const sum = await peer.call('add', [1, 2])
 */
export class Peer {
  /** @type {PeerHost} */
  #host
  /** @type {((text: string) => void) | null} */
  #send = null
  // Frames sent (or to send), kept until the other side acknowledges them.
  /** @type {Kept[]} */
  #outbox = []
  #outboxBytes = 0
  #sent = 0
  // The highest frame number received in order, and whether an ack of it is due.
  #received = 0
  #ackScheduled = false
  #nextCallId = 1
  /** @type {Map<number, Pending>} */
  #pending = new Map()
  // Incoming calls running, by id: their abort controllers (a cancel reaches the function) and deadlines.
  /** @type {Map<number, Running>} */
  #running = new Map()
  /** @type {RpcError | null} */
  #ended = null

  /** @param {PeerHost} host */
  constructor (host) {
    this.#host = host
  }

  /** The highest frame number received in order (what `hello`/`welcome` acknowledge). */
  get received () {
    return this.#received
  }

  /** Calls waiting for a result. */
  get pending () {
    return this.#pending.size
  }

  /** Calls from the other side still running here. */
  get running () {
    return this.#running.size
  }

  /**
   * A socket is open: `peerReceived` is the last frame number the other side
   * has; what came after it is sent again, in order.
   * @param {(text: string) => void} send
   * @param {number} peerReceived
   */
  attach (send, peerReceived) {
    this.#send = send
    this.#acknowledged(peerReceived)
    for (const kept of this.#outbox) send(kept.text)
  }

  /** The socket is gone: frames are kept for the next one. */
  detach () {
    this.#send = null
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
    if (this.#ended !== null) return Promise.reject(this.#ended)
    if (options.signal?.aborted === true) return Promise.reject(new RpcError(RpcErrorCode.CANCELLED, `call to ${fn} was cancelled`))
    if (this.#pending.size >= this.#host.maxInFlight) {
      return Promise.reject(new RpcError(RpcErrorCode.OVERLOADED, `${this.#host.maxInFlight} calls are already in flight`))
    }
    if (this.#outboxBytes >= this.#host.maxOutboxBytes) {
      return Promise.reject(new RpcError(RpcErrorCode.OVERLOADED, `${this.#outboxBytes} bytes wait for the other side already`))
    }
    const timeout = options.timeout ?? this.#host.timeout
    const id = this.#nextCallId++
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const pending = { resolve, reject, timer: undefined, signal: options.signal, onAbort: undefined }
      this.#pending.set(id, pending)
      pending.timer = setTimeout(() => { this.#giveUp(id, RpcErrorCode.TIMEOUT, `call to ${fn} timed out after ${timeout} ms`) }, timeout)
      if (options.signal !== undefined) {
        pending.onAbort = () => { this.#giveUp(id, RpcErrorCode.CANCELLED, `call to ${fn} was cancelled`) }
        options.signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      this.#push({ t: 'call', s: 0, id, fn, deadline: timeout, args: [] }, typeof args === 'string' ? args : JSON.stringify(args))
    })
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
    for (const id of [...this.#pending.keys()]) this.#giveUp(id, error.code, error.message, false)
    for (const id of [...this.#running.keys()]) this.#stopRunning(id, error)
    this.#outbox.length = 0
    this.#outboxBytes = 0
    this.#send = null
  }

  /** @param {CallFrame} frame */
  #runCall (frame) {
    if (this.#running.size >= this.#host.maxInFlight) {
      this.#push({ t: 'result', s: 0, id: frame.id, error: { code: RpcErrorCode.OVERLOADED, message: `${this.#host.maxInFlight} calls are already running` } })
      return
    }
    const controller = new AbortController()
    // The caller's deadline holds here too: the function sees its signal abort when the caller gives up.
    const deadline = frame.deadline === undefined
      ? undefined
      : setTimeout(() => { this.#stopRunning(frame.id, new RpcError(RpcErrorCode.TIMEOUT, 'the caller\'s deadline passed')) }, frame.deadline)
    /** @type {Running} */
    const running = { controller, deadline }
    this.#running.set(frame.id, running)
    /** @type {Promise<unknown>} */
    let result
    try {
      result = this.#host.run(frame.fn, frame.args, controller.signal)
    } catch (error) {
      result = Promise.reject(error)
    }
    result.then(
      /** @returns {ResultFrame} */ (value) => ({ t: 'result', s: 0, id: frame.id, value: value === undefined ? null : value }),
      /** @returns {ResultFrame} */ (error) => ({ t: 'result', s: 0, id: frame.id, error: wireError(error) })
    ).then((answer) => {
      // A call cancelled or ended meanwhile: nobody waits for its answer.
      if (this.#running.get(frame.id) !== running) return
      this.#running.delete(frame.id)
      if (deadline !== undefined) clearTimeout(deadline)
      this.#push(answer)
    })
  }

  /**
   * The caller gave up (cancel, deadline): the function sees its signal abort, and its answer is dropped.
   * @param {number} id
   * @param {RpcError} reason
   */
  #stopRunning (id, reason) {
    const running = this.#running.get(id)
    if (running === undefined) return
    this.#running.delete(id)
    if (running.deadline !== undefined) clearTimeout(running.deadline)
    running.controller.abort(reason)
  }

  /** @param {ResultFrame} frame */
  #settle (frame) {
    const pending = this.#pending.get(frame.id)
    if (pending === undefined) return
    this.#forget(frame.id, pending)
    if (frame.error !== undefined) pending.reject(new RpcError(frame.error.code, frame.error.message))
    else pending.resolve(frame.value)
  }

  /**
   * @param {number} id
   * @param {string} code
   * @param {string} message
   * @param {boolean} [tell] tell the other side, which stops the function if it still runs
   */
  #giveUp (id, code, message, tell = true) {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#forget(id, pending)
    if (tell) this.#push({ t: 'cancel', s: 0, id, reason: code })
    pending.reject(new RpcError(code, message))
  }

  /**
   * @param {number} id
   * @param {Pending} pending
   */
  #forget (id, pending) {
    this.#pending.delete(id)
    if (pending.timer !== undefined) clearTimeout(pending.timer)
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
  }

  /**
   * Numbers a frame, keeps it until acknowledged, and sends it if a socket is
   * attached. A call's arguments come as JSON text, spliced in (args last, so
   * the text is the frame's JSON).
   * @param {NumberedFrame} frame
   * @param {string} [encodedArgs]
   */
  #push (frame, encodedArgs) {
    if (this.#ended !== null) return
    frame.s = ++this.#sent
    const text = encodedArgs === undefined ? JSON.stringify(frame) : JSON.stringify(frame).slice(0, -'[]}'.length) + encodedArgs + '}'
    this.#outbox.push({ frame, text })
    this.#outboxBytes += text.length
    this.#send?.(text)
  }

  /** @param {number} upTo */
  #acknowledged (upTo) {
    const outbox = this.#outbox
    let count = 0
    while (count < outbox.length && /** @type {Kept} */ (outbox[count]).frame.s <= upTo) {
      this.#outboxBytes -= /** @type {Kept} */ (outbox[count]).text.length
      count++
    }
    if (count > 0) outbox.splice(0, count)
  }

  // One ack per turn, for every frame received in it.
  #scheduleAck () {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setTimeout(() => {
      this.#ackScheduled = false
      this.#send?.(JSON.stringify({ t: 'ack', ack: this.#received }))
    }, 0)
  }
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
