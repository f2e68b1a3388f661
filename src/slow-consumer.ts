/**
 * The slow-consumer policy shared by SSE streams and WebSocket clients, after
 * Redis's `client-output-buffer-limit` and NATS's write deadline. A client is
 * slow when its unsent bytes pass the hard bound (at once), or stay above the
 * soft bound (`maxBufferedBytes`) for `stallTimeout` ms without draining below
 * it. A burst that the client reads at full speed passes the soft bound only
 * until its socket drains, so it is not taken for a stall.
 */

/** What happens to a slow client: 'close' it (the default) or 'drop-oldest' queued messages (latest-state feeds). */
export type OverflowPolicy = 'close' | 'drop-oldest'

/** Why a client was found slow: past the hard bound, or above the soft bound for the stall time. */
export type SlowReason = 'overflow' | 'stall'

// How a member closed by the policy says so: an SSE stream's closeReason, a WebSocket client's closeError code.
const SLOW_CONSUMER_CLOSES = new Set<unknown>(['overflow', 'stall', 'FST_ERR_WS_OVERFLOW', 'FST_ERR_WS_STALLED'])

/**
 * True for a closed SSE stream or WebSocket client that the policy let go (overflow or stall).
 * @example if (closedAsSlowConsumer(subscriber)) slowConsumerCloses++
 */
export function closedAsSlowConsumer (member: object): boolean {
  const { closeReason, closeError } = member as { closeReason?: unknown, closeError?: { code?: unknown } }
  return SLOW_CONSUMER_CLOSES.has(closeReason ?? closeError?.code)
}

/** The policies, for validation messages. */
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = Object.freeze(['close', 'drop-oldest'])

/** Default soft bound of a client's unsent bytes: 1 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024

/** Default time a client may stay above the soft bound: 10 s (NATS's write deadline). */
export const DEFAULT_STALL_TIMEOUT = 10_000

// The hard bound, unless set: this many soft bounds (16 MiB by default), room for bursts well past the soft bound.
const HARD_BOUND_FACTOR = 16

/** The bounds of one client, every default applied. */
export interface SlowConsumerLimits {
  /** Soft bound: unsent bytes a client may keep for up to `stallTimeout` ms. */
  readonly maxBufferedBytes: number
  /** Hard bound: unsent bytes past which the policy applies at once. */
  readonly hardMaxBufferedBytes: number
  /** How long a client may stay above the soft bound, in ms. */
  readonly stallTimeout: number
  readonly overflow: OverflowPolicy
}

/**
 * The limits from settings of which any may be missing: the hard bound
 * defaults to 16 soft bounds and is never below the soft one.
 * @example slowConsumerLimits({ maxBufferedBytes: 65536 }).hardMaxBufferedBytes // 1048576
 */
export function slowConsumerLimits (settings: Partial<SlowConsumerLimits>): SlowConsumerLimits {
  const soft = settings.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  return {
    maxBufferedBytes: soft,
    hardMaxBufferedBytes: Math.max(soft, settings.hardMaxBufferedBytes ?? soft * HARD_BOUND_FACTOR),
    stallTimeout: settings.stallTimeout ?? DEFAULT_STALL_TIMEOUT,
    overflow: settings.overflow ?? 'close'
  }
}

/**
 * One client's stall clock: started when its unsent bytes pass the soft
 * bound, stopped when they drain below it, `onStall` once it runs out. The
 * timer exists only while the client is above the soft bound.
 * @example const clock = new StallClock(limits, () => client.close()); if (clock.check(buffered)) client.close()
 */
export class StallClock {
  readonly limits: SlowConsumerLimits
  readonly #onStall: () => void
  #timer: NodeJS.Timeout | null = null
  // Set when the timer ran out: the verdict waits for the I/O of that turn (see #expire).
  #confirming: NodeJS.Immediate | null = null

  constructor (limits: SlowConsumerLimits, onStall: () => void) {
    this.limits = limits
    this.#onStall = onStall
  }

  /** True while the client is above the soft bound and the clock runs. */
  get running (): boolean {
    return this.#timer !== null || this.#confirming !== null
  }

  /**
   * Whether `buffered` unsent bytes pass the hard bound; past the soft one, the
   * clock starts (if it is not already running).
   */
  check (buffered: number): boolean {
    if (buffered > this.limits.hardMaxBufferedBytes) return true
    if (buffered > this.limits.maxBufferedBytes && !this.running) {
      this.#timer = setTimeout(this.#expire, this.limits.stallTimeout)
      // A stalled client alone never keeps the process alive.
      this.#timer.unref()
    }
    return false
  }

  /** The client's unsent bytes are down to `buffered`: within the soft bound, the clock stops. */
  drained (buffered: number): void {
    if (buffered <= this.limits.maxBufferedBytes) this.stop()
  }

  /** Stops the clock (the client is gone, or drained). */
  stop (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    if (this.#confirming !== null) clearImmediate(this.#confirming)
    this.#timer = null
    this.#confirming = null
  }

  // After a turn that blocked the event loop past the stall time, timers run before the I/O
  // that may have drained the client: the verdict comes after that I/O (setImmediate), and a
  // drain in it stops the clock.
  readonly #expire = (): void => {
    this.#timer = null
    this.#confirming = setImmediate(this.#confirm)
  }

  readonly #confirm = (): void => {
    this.#confirming = null
    this.#onStall()
  }
}
