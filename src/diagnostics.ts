/**
 * The package's `node:diagnostics_channel` channels, as undici and Fastify
 * publish theirs: every channel is listed here, once, with its message type.
 * A channel publishes only when it has subscribers, so that nobody pays for a
 * message nobody reads: each call site tests `hasSubscribers` before it
 * builds one. docs/observability.md documents each name (a test compares the
 * two lists); subscribers use the names, the channel objects stay internal.
 */
import { channel } from 'node:diagnostics_channel'
import type { Registry } from './registry/registry.js'
import type { Subscriber } from './registry/subscriber.js'
import type { SSECloseReason, SSEStream } from './sse/stream.js'
import type { ResourceClient } from './websocket/resource-client.js'

/**
 * The message of each channel, by channel name.
 * @example
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe('fastify-datastar:sse:close', (message) => {
 *   const { reason } = message as DiagnosticMessages['fastify-datastar:sse:close']
 *   closed.inc({ reason })
 * })
 */
export interface DiagnosticMessages {
  /** A stream wrote its head. */
  'fastify-datastar:sse:open': { stream: SSEStream }
  /** A stream that had opened ended; `reason` is its `closeReason`. */
  'fastify-datastar:sse:close': { stream: SSEStream, reason: SSECloseReason }
  /** A registry wrote `events` events (more than one when coalesced) of `bytes` bytes to `subscribers` subscribers. */
  'fastify-datastar:registry:broadcast': { registry: Registry<any>, events: number, subscribers: number, bytes: number }
  /** A subscriber resuming from `lastEventId` was written the `events` events (`bytes` bytes) it missed. */
  'fastify-datastar:registry:replay': { registry: Registry<any>, subscriber: Subscriber, lastEventId: string, events: number, bytes: number }
  /** A subscriber resuming from `lastEventId` could not be replayed to: the events it missed are no longer known. */
  'fastify-datastar:registry:resync': { registry: Registry<any>, subscriber: Subscriber, lastEventId: string }
  /** A registry's subscription to its backplane holds (`connected`), was refused (`error`), or ended (registry closed). */
  'fastify-datastar:registry:backplane': { registry: Registry<any>, connected: boolean, error: Error | undefined }
  /** A WebSocket client joined its resource. */
  'fastify-datastar:websocket:open': { client: ResourceClient<any, any, any> }
  /** A WebSocket client's socket closed; `error` is its `closeError`, if the server closed it for one. */
  'fastify-datastar:websocket:close': { client: ResourceClient<any, any, any>, code: number, reason: string, error: Error | undefined }
}

/** A channel whose messages are typed by its name. */
interface TypedChannel<Name extends keyof DiagnosticMessages> {
  readonly name: Name
  readonly hasSubscribers: boolean
  publish (message: DiagnosticMessages[Name]): void
}

function typedChannel<Name extends keyof DiagnosticMessages> (name: Name): TypedChannel<Name> {
  return channel(name) as unknown as TypedChannel<Name>
}

// One object per channel, made once: call sites test `hasSubscribers` on it, which costs no lookup by name.
export const sseOpen = typedChannel('fastify-datastar:sse:open')
export const sseClose = typedChannel('fastify-datastar:sse:close')
export const registryBroadcast = typedChannel('fastify-datastar:registry:broadcast')
export const registryReplay = typedChannel('fastify-datastar:registry:replay')
export const registryResync = typedChannel('fastify-datastar:registry:resync')
export const registryBackplane = typedChannel('fastify-datastar:registry:backplane')
export const websocketOpen = typedChannel('fastify-datastar:websocket:open')
export const websocketClose = typedChannel('fastify-datastar:websocket:close')
