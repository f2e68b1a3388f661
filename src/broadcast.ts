/**
 * What every broadcast takes, whatever it reaches (a registry's subscribers,
 * a WebSocket room's clients): who is left out, evaluated where it is called.
 */

/** Options of a broadcast. `except` and `filter` are evaluated on this node. */
export interface BroadcastOptions<Target = unknown> {
  /** A target (or several) that must not receive it, typically the sender. */
  except?: Target | readonly Target[]
  /** Receives it only if this returns true. */
  filter?: (target: Target) => boolean
}

/**
 * True when `except` names `target`. Loops test `except !== undefined` first:
 * most broadcasts have none, and the check then costs no call per target.
 * @example if (except !== undefined && isExcepted(client, except)) continue
 */
export function isExcepted<Target> (target: Target, except: Target | readonly Target[]): boolean {
  return except === target || (Array.isArray(except) && except.includes(target))
}

/**
 * Counters of a registry or a WebSocket resource instance since it was created (its `stats()`).
 * @example const { members, events, bytes, slowConsumerCloses } = registry.stats()
 */
export interface BroadcastStats {
  /** Subscribers (clients) in it now. */
  members: number
  /** Events (messages) broadcast to its members, each counted once however many members it reached. */
  events: number
  /** Bytes those broadcasts handed to members: an event of n bytes written to k members counts k × n. */
  bytes: number
  /** Members the slow-consumer policy closed (overflow or stall). */
  slowConsumerCloses: number
}
