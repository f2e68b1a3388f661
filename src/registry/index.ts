/** Broadcast registries: subscribers of any transport, replay, long-poll, backplanes. */
export * from './backplane.js'
export * from './registry.js'
export { ReplayRing, type RingEvent } from './ring.js'
