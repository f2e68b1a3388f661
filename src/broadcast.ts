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
