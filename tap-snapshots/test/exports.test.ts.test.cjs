/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/exports.test.ts > TAP > the public surface of every subpath > exports of each subpath 1`] = `
fastify-datastar
  values: DatastarStream, MemoryBackplane, Registry, SSEStream, datastar, default, errorCodes, fastifyDatastar, nodelay, registry, sse
  types: AddOptions, Backplane, BackplaneEvent, BackplaneListener, BackplaneMessage, BroadcastOptions, Broadcaster, CompressionOptions, CompressionTuning, DatastarClientOptions, DatastarMethods, DatastarPluginOptions, DatastarReplyOptions, Encoding, EphemeralListener, FastifyDatastarOptions, LongPollOptions, OverflowPolicy, PollOptions, PollResult, RegistryOptions, RegistryPluginOptions, Resource, ResourceClient, ResourceRoute, RouteSignals, SSECloseReason, SSEMessage, SSEPluginOptions, SSEReplyOptions, SharedStore, Signals, SignalsPatch, StreamCallback, StreamReplyOptions, StreamSettings, Subscriber
fastify-datastar/sse
  values: SSEStream, default, sse
  types: CompressionOptions, CompressionTuning, Encoding, OverflowPolicy, SSECloseReason, SSEMessage, SSEPluginOptions, SSEReplyOptions, StreamCallback, StreamReplyOptions, StreamSettings
fastify-datastar/datastar
  values: DATASTAR_VERSION, DatastarStream, datastar, datastarUrl, default
  types: CustomEventOptions, DatastarClientOptions, DatastarMethods, DatastarPluginOptions, DatastarReplyOptions, DatastarUrlOptions, ElementsResponseOptions, EventOptions, ExecuteScriptOptions, Namespace, PatchElementsOptions, PatchMode, PatchSignalsOptions, RemoveElementsOptions, RouteSignals, ScriptResponseOptions, Signals, SignalsPatch, SignalsResponseOptions
fastify-datastar/nodelay
  values: default, nodelay
  types: 
fastify-datastar/registry
  values: CURSOR_HEADER, MemoryBackplane, Registry, default, registry
  types: AddOptions, Backplane, BackplaneEvent, BackplaneListener, BackplaneMessage, BroadcastOptions, Broadcaster, EphemeralListener, LongPollOptions, PollOptions, PollResult, RegistryOptions, RegistryPluginOptions, SharedStore, Subscriber
fastify-datastar/redis
  values: RedisBackplane
  types: RedisBackplaneOptions
fastify-datastar/core
  values: CloseCode, ClusterNode, DATASTAR_VERSION, DatastarStream, MemoryBackplane, PATCH_ELEMENTS_EVENT, PATCH_SIGNALS_EVENT, Registry, Resource, ResourceClient, ResourceRoute, SSEParser, SSEStream, SharedEvent, SharedMessage, consoleErrorEvent, consoleLogEvent, datastarUrl, dispatchCustomEventEvent, elementsResponse, encodeComment, encodeEvent, errorCodes, escapeHtml, executeScriptEvent, isEncodingAvailable, negotiateEncoding, parseSignals, patchElementsEvent, patchSignalsEvent, prefetchEvent, readSignals, redirectEvent, removeElementsByIdEvent, removeElementsEvent, removeSignalsEvent, replaceUrlEvent, resolveResourceOptions, scriptResponse, shareRequestStrings, signalsResponse, sseHeaders
  types: AddOptions, Backplane, BackplaneEvent, BackplaneListener, BackplaneMessage, BroadcastOptions, BroadcastRelay, BroadcastStats, Broadcaster, ClientDefinition, CloseCodeValue, ClusterAnswers, ClusterHandler, ClusterListener, ClusterNodeOptions, ClusterRequestOptions, CompressionOptions, CompressionTuning, Connection, CustomEventOptions, DatastarMethods, DatastarUrlOptions, DiagnosticMessages, ElementsResponseOptions, Encoding, Envelope, EphemeralListener, EventOptions, ExecuteScriptOptions, InvalidMessagePolicy, MessageValidator, Namespace, OneShotResponse, OriginPolicy, OutgoingMessage, OverflowPolicy, ParseSignalsOptions, ParsedEvent, PatchElementsOptions, PatchMode, PatchSignalsOptions, PoisoningAction, PollOptions, PollResult, Presence, PresenceOptions, RegistryOptions, RegistryStats, RemoveElementsOptions, ResolvedResourceOptions, ResourceHandlers, ResourceMember, ResourceOptions, ResourceRouteOptions, SSECloseReason, SSEHead, SSEMessage, SSEResponse, SSEStreamOptions, ScriptAttributes, ScriptResponseOptions, SharedStore, Signals, SignalsPatch, SignalsResponseOptions, SignalsSource, StreamCompression, StreamSettings, Subscriber
fastify-datastar/websocket
  values: CloseCode, default, websocket
  types: BroadcastOptions, Envelope, InvalidMessagePolicy, OriginPolicy, OutgoingMessage, OverflowPolicy, Presence, PresenceOptions, Resource, ResourceClient, ResourceDefinition, ResourceHandlers, ResourceMessage, ResourceOptions, ResourceRoute, WebSocketPluginOptions
fastify-datastar/websocket-client
  values: WebSocketClient
  types: ReconnectOptions, WebSocketClientCloseEvent, WebSocketClientData, WebSocketClientEvents, WebSocketClientMessageEvent, WebSocketClientOptions, WebSocketClientReconnectingEvent
fastify-datastar/rpc
  values: RPC_DEFAULTS, RpcClient, RpcError, RpcErrorCode, connect, connectTestPage, default, rpc
  types: BrowserFunction, CallContext, CallEntry, CallManyOptions, CallOptions, ConnectOptions, Faults, FunctionSchemas, RemoteSession, RpcApi, RpcPluginOptions, RpcSession, RpcTransport, Session, TestPage, TestPageOptions
`
