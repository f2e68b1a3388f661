/**
 * The bound on what a slow client may hold, shared by SSE streams and
 * WebSocket clients: past `maxBufferedBytes` of unsent bytes, the policy applies.
 */

/** Past the bound: 'close' the client (the default) or 'drop-oldest' queued messages (latest-state feeds). */
export type OverflowPolicy = 'close' | 'drop-oldest'

/** The policies, for validation messages. */
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = Object.freeze(['close', 'drop-oldest'])

/** Default bound of a slow client's unsent bytes: 1 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
