/**
 * One side of an RPC session, the same in the browser and on the server:
 * calls out and their deadlines, calls in and their cancellation, and the
 * numbered frames that make both survive a reconnect exactly once. The
 * socket comes and goes (`attach`/`detach`); the peer outlives it. This
 * module runs in the browser too: it imports only the protocol.
 */
import { RpcErrorCode, type CallFrame, type Frame, type NumberedFrame, type ResultFrame, type WireError } from './protocol.js'

/** An RPC failure: a code from `RpcErrorCode` (or the remote function's own) and a message. */
export class RpcError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'RpcError'
    this.code = code
  }
}

/** Options of one outgoing call. */
export interface CallOptions {
  /** Give up after this many ms (the callee is told, and sees its signal abort). */
  timeout?: number
  /** Abort the call (the callee is told too). */
  signal?: AbortSignal
}

/** What a peer needs from the side that owns it. */
export interface PeerHost {
  /**
   * Runs an incoming call: resolves with its result or rejects (an `RpcError`
   * travels with its code, anything else as a remote error with its message).
   */
  run: (fn: string, args: unknown[], signal: AbortSignal) => Promise<unknown>
  /** Limits: calls in flight each way, bytes of frames kept for a resend. */
  maxInFlight: number
  maxOutboxBytes: number
  /** Default timeout of outgoing calls, in ms. */
  timeout: number
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: RpcError) => void
  timer: ReturnType<typeof setTimeout> | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

interface Running {
  controller: AbortController
  deadline: ReturnType<typeof setTimeout> | undefined
}

interface Kept {
  frame: NumberedFrame
  text: string
}

/**
 * One side of a session.
 * @example
 * const peer = new Peer({ run: (fn, args) => functions[fn](...args), maxInFlight: 64, maxOutboxBytes: 1 << 20, timeout: 30_000 })
 * peer.attach((text) => socket.send(text), 0)
 * const sum = await peer.call('add', [1, 2])
 */
export class Peer {
  readonly #host: PeerHost
  #send: ((text: string) => void) | null = null
  // Frames sent (or to send), kept until the other side acknowledges them.
  readonly #outbox: Kept[] = []
  #outboxBytes = 0
  #sent = 0
  // The highest frame number received in order, and whether an ack of it is due.
  #received = 0
  #ackScheduled = false
  #nextCallId = 1
  readonly #pending = new Map<number, Pending>()
  // Incoming calls running, by id: their abort controllers (a cancel reaches the function) and deadlines.
  readonly #running = new Map<number, Running>()
  #ended: RpcError | null = null

  constructor (host: PeerHost) {
    this.#host = host
  }

  /** The highest frame number received in order (what `hello`/`welcome` acknowledge). */
  get received (): number {
    return this.#received
  }

  /** Calls waiting for a result. */
  get pending (): number {
    return this.#pending.size
  }

  /** Calls from the other side still running here. */
  get running (): number {
    return this.#running.size
  }

  /** True while a socket is attached. */
  get attached (): boolean {
    return this.#send !== null
  }

  /**
   * A socket is open: `peerReceived` is the last frame number the other side
   * has; what came after it is sent again, in order.
   */
  attach (send: (text: string) => void, peerReceived: number): void {
    this.#send = send
    this.#acknowledged(peerReceived)
    for (const kept of this.#outbox) send(kept.text)
  }

  /** The socket is gone: frames are kept for the next one. */
  detach (): void {
    this.#send = null
  }

  /**
   * Calls `fn` on the other side with `args` (JSON values); resolves with its
   * result, or rejects with an `RpcError`.
   */
  call (fn: string, args: unknown[], options: CallOptions = {}): Promise<unknown> {
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
      const pending: Pending = { resolve, reject, timer: undefined, signal: options.signal, onAbort: undefined }
      this.#pending.set(id, pending)
      pending.timer = setTimeout(() => { this.#giveUp(id, RpcErrorCode.TIMEOUT, `call to ${fn} timed out after ${timeout} ms`) }, timeout)
      if (options.signal !== undefined) {
        pending.onAbort = () => { this.#giveUp(id, RpcErrorCode.CANCELLED, `call to ${fn} was cancelled`) }
        options.signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      this.#push({ t: 'call', s: 0, id, fn, args, deadline: timeout })
    })
  }

  /** A text frame from the socket; false when it is not one this side accepts (close the socket). */
  receive (frame: Frame): boolean {
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
   */
  end (error: RpcError): void {
    if (this.#ended !== null) return
    this.#ended = error
    for (const id of [...this.#pending.keys()]) this.#giveUp(id, error.code, error.message, false)
    for (const id of [...this.#running.keys()]) this.#stopRunning(id, error)
    this.#outbox.length = 0
    this.#outboxBytes = 0
    this.#send = null
  }

  #runCall (frame: CallFrame): void {
    if (this.#running.size >= this.#host.maxInFlight) {
      this.#push({ t: 'result', s: 0, id: frame.id, error: { code: RpcErrorCode.OVERLOADED, message: `${this.#host.maxInFlight} calls are already running` } })
      return
    }
    const controller = new AbortController()
    // The caller's deadline holds here too: the function sees its signal abort when the caller gives up.
    const deadline = frame.deadline === undefined
      ? undefined
      : setTimeout(() => { this.#stopRunning(frame.id, new RpcError(RpcErrorCode.TIMEOUT, 'the caller\'s deadline passed')) }, frame.deadline)
    const running: Running = { controller, deadline }
    this.#running.set(frame.id, running)
    let result: Promise<unknown>
    try {
      result = this.#host.run(frame.fn, frame.args, controller.signal)
    } catch (error) {
      result = Promise.reject(error)
    }
    result.then(
      (value) => ({ t: 'result', s: 0, id: frame.id, value: value === undefined ? null : value }) as ResultFrame,
      (error: unknown) => ({ t: 'result', s: 0, id: frame.id, error: wireError(error) }) as ResultFrame
    ).then((answer) => {
      // A call cancelled or ended meanwhile: nobody waits for its answer.
      if (this.#running.get(frame.id) !== running) return
      this.#running.delete(frame.id)
      if (deadline !== undefined) clearTimeout(deadline)
      this.#push(answer)
    })
  }

  // The caller gave up (cancel, deadline): the function sees its signal abort, and its answer is dropped.
  #stopRunning (id: number, reason: RpcError): void {
    const running = this.#running.get(id)
    if (running === undefined) return
    this.#running.delete(id)
    if (running.deadline !== undefined) clearTimeout(running.deadline)
    running.controller.abort(reason)
  }

  #settle (frame: ResultFrame): void {
    const pending = this.#pending.get(frame.id)
    if (pending === undefined) return
    this.#forget(frame.id, pending)
    if (frame.error !== undefined) pending.reject(new RpcError(frame.error.code, frame.error.message))
    else pending.resolve(frame.value)
  }

  #giveUp (id: number, code: string, message: string, tell = true): void {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#forget(id, pending)
    // The other side stops the function too, when it still runs.
    if (tell) this.#push({ t: 'cancel', s: 0, id, reason: code })
    pending.reject(new RpcError(code, message))
  }

  #forget (id: number, pending: Pending): void {
    this.#pending.delete(id)
    if (pending.timer !== undefined) clearTimeout(pending.timer)
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
  }

  // Numbers a frame, keeps it until acknowledged, and sends it if a socket is attached.
  #push (frame: NumberedFrame): void {
    if (this.#ended !== null) return
    frame.s = ++this.#sent
    const text = JSON.stringify(frame)
    this.#outbox.push({ frame, text })
    this.#outboxBytes += text.length
    this.#send?.(text)
  }

  #acknowledged (upTo: number): void {
    const outbox = this.#outbox
    let count = 0
    while (count < outbox.length && (outbox[count] as Kept).frame.s <= upTo) {
      this.#outboxBytes -= (outbox[count] as Kept).text.length
      count++
    }
    if (count > 0) outbox.splice(0, count)
  }

  // One ack per turn, for every frame received in it.
  #scheduleAck (): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setTimeout(() => {
      this.#ackScheduled = false
      this.#send?.(JSON.stringify({ t: 'ack', ack: this.#received }))
    }, 0)
  }
}

// What an error becomes on the wire: an RpcError keeps its code; anything else is a remote error with its message.
function wireError (error: unknown): WireError {
  if (error instanceof RpcError) return { code: error.code, message: error.message }
  const message = error instanceof Error ? error.message : String(error)
  return { code: RpcErrorCode.REMOTE, message }
}
