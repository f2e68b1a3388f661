/**
 * The framework-free core: SSE encoding and streams, the Datastar protocol,
 * signal parsing, registries, WebSocket resources. Usable without Fastify.
 */
export * from './errors.js'
export * from './sse/format.js'
export * from './sse/parser.js'
export * from './sse/stream.js'
export * from './sse/compression.js'
export { heartbeatIntervals, heartbeatTimerCount } from './heartbeat.js'
export * from './datastar/events.js'
export * from './datastar/html.js'
export * from './datastar/one-shot.js'
export * from './datastar/signals.js'
export * from './datastar/stream.js'
export * from './datastar/url.js'
export * from './registry/index.js'
export * from './websocket/index.js'
