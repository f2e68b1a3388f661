/** Broadcast registries: subscribers of any transport, replay, long-poll, backplanes. */
export * from './backplane.js'
export * from './registry.js'
export { Broadcaster } from './broadcaster.js'
export type { PollResult } from './long-poll.js'
export { DEFAULT_POLL_TIMEOUT, DEFAULT_REPLAY, validateRegistryOptions, type AddOptions, type PollOptions, type RegistryOptions } from './options.js'
export { ReplayRing, type RingEvent } from './ring.js'
export type { BroadcastOptions } from '../broadcast.js'
