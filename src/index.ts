/**
 * `fastify-datastar/core`: the framework-free core, for use without Fastify
 * (a bare node:http or ws server, another framework, a test client): the SSE
 * encoders, parser and stream, the Datastar events and stream, signal
 * parsing, registries, and WebSocket resources. Every name is listed here
 * on purpose (test/exports.test.ts pins the list).
 */
export { errorCodes } from './errors.js'

// Server-Sent Events.
export { encodeComment, encodeEvent, type SSEMessage } from './sse/format.js'
export { SSEParser, type ParsedEvent } from './sse/parser.js'
export { SSEStream, SharedEvent, sseHeaders, type SSECloseReason, type SSEHead, type SSEResponse, type SSEStreamOptions } from './sse/stream.js'
export { isEncodingAvailable, negotiateEncoding, type CompressionOptions, type CompressionTuning, type Encoding, type StreamCompression } from './sse/compression.js'
export type { StreamSettings } from './sse/options.js'
export type { OverflowPolicy } from './slow-consumer.js'
export type { BroadcastOptions, BroadcastStats } from './broadcast.js'

// Datastar.
export {
  PATCH_ELEMENTS_EVENT,
  PATCH_SIGNALS_EVENT,
  consoleErrorEvent,
  consoleLogEvent,
  dispatchCustomEventEvent,
  executeScriptEvent,
  patchElementsEvent,
  patchSignalsEvent,
  prefetchEvent,
  redirectEvent,
  removeElementsByIdEvent,
  removeElementsEvent,
  removeSignalsEvent,
  replaceUrlEvent,
  type CustomEventOptions,
  type EventOptions,
  type ExecuteScriptOptions,
  type Namespace,
  type PatchElementsOptions,
  type PatchMode,
  type PatchSignalsOptions,
  type RemoveElementsOptions,
  type SignalsPatch
} from './datastar/events.js'
export type { DatastarMethods } from './datastar/methods.js'
export { DatastarStream } from './datastar/stream.js'
export { escapeHtml, type ScriptAttributes } from './datastar/html.js'
export { elementsResponse, scriptResponse, signalsResponse, type ElementsResponseOptions, type OneShotResponse, type ScriptResponseOptions, type SignalsResponseOptions } from './datastar/one-shot.js'
export { parseSignals, readSignals, type ParseSignalsOptions, type PoisoningAction, type Signals, type SignalsSource } from './datastar/signals.js'
export { DATASTAR_VERSION, datastarUrl, type DatastarUrlOptions } from './datastar/url.js'

// Broadcast registries.
export { Registry, type RegistryStats } from './registry/registry.js'
export type { Broadcaster } from './registry/broadcaster.js'
export type { Subscriber } from './registry/subscriber.js'
export type { AddOptions, PollOptions, RegistryOptions } from './registry/options.js'
export type { PollResult } from './registry/long-poll.js'
export { MemoryBackplane, type Backplane, type BackplaneEvent, type BackplaneListener, type BackplaneMessage, type EphemeralListener } from './registry/backplane.js'
export type { SharedStore } from './cluster/store.js'

// The nodes on one backplane, as a cluster (rooms across nodes use it).
export { ClusterNode, type ClusterAnswers, type ClusterHandler, type ClusterListener, type ClusterNodeOptions, type ClusterRequestOptions } from './cluster/node.js'

// WebSocket resources, for a bare ws server.
export { ResourceClient, type ClientDefinition, type MessageValidator, type ResourceHandlers } from './websocket/resource-client.js'
export { Resource, type BroadcastRelay, type ResourceMember } from './websocket/resource.js'
export { ResourceRoute, type Connection, type Presence, type PresenceOptions, type ResourceRouteOptions } from './websocket/resource-route.js'
export { CloseCode, type CloseCodeValue } from './websocket/close-codes.js'
export { SharedMessage } from './websocket/frame.js'
export type { Envelope } from './websocket/envelope.js'
export type { OutgoingMessage } from './websocket/message.js'
export { resolveResourceOptions, type InvalidMessagePolicy, type ResolvedResourceOptions, type ResourceOptions } from './websocket/options.js'
export type { OriginPolicy } from './websocket/origin.js'
export { shareRequestStrings } from './websocket/request-strings.js'

// Observability: the message of each diagnostics channel, by channel name.
export type { DiagnosticMessages } from './diagnostics.js'
