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
 * True when `except` names `target`.
 * @example isExcepted(client, { except: [sender] }.except)
 */
export function isExcepted<Target> (target: Target, except: Target | readonly Target[] | undefined): boolean {
  if (except === undefined) return false
  return except === target || (Array.isArray(except) && except.includes(target))
}
