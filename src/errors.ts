/**
 * Every error this package throws, each with a stable code (the way Fastify and
 * ws name theirs), built with @fastify/error so Fastify's error handler answers
 * them with the right status and the usual `{ statusCode, code, error, message }`.
 */
import createError from '@fastify/error'

// Programmer mistakes while writing an event: nothing is written.
export const FST_ERR_SSE_INVALID_FIELD = createError(
  'FST_ERR_SSE_INVALID_FIELD',
  'The SSE %s field must be a single-line string: CR and LF are not allowed',
  500,
  TypeError
)
export const FST_ERR_SSE_INVALID_RETRY = createError(
  'FST_ERR_SSE_INVALID_RETRY',
  'The SSE retry field must be a non-negative integer, got %s',
  500,
  TypeError
)
export const FST_ERR_SSE_INVALID_DATA = createError(
  'FST_ERR_SSE_INVALID_DATA',
  'SSE data must be a string or an array of strings, got %s',
  500,
  TypeError
)
export const FST_ERR_SSE_INVALID_OPTION = createError(
  'FST_ERR_SSE_INVALID_OPTION',
  'Invalid SSE option %s: %s',
  500,
  TypeError
)
export const FST_ERR_SSE_OVERFLOW = createError(
  'FST_ERR_SSE_OVERFLOW',
  'Closed a client that fell more than %s bytes behind (the hard bound)',
  500
)
export const FST_ERR_SSE_STALLED = createError(
  'FST_ERR_SSE_STALLED',
  'Closed a client that stayed more than %s bytes behind for %s ms',
  500
)
export const FST_ERR_SSE_ALREADY_STARTED = createError(
  'FST_ERR_SSE_ALREADY_STARTED',
  'This reply already has an event stream or has been sent',
  500
)

export const FST_ERR_DATASTAR_INVALID_MODE = createError(
  'FST_ERR_DATASTAR_INVALID_MODE',
  'Invalid Datastar patch mode "%s"; expected one of: %s',
  500,
  TypeError
)
export const FST_ERR_DATASTAR_INVALID_NAMESPACE = createError(
  'FST_ERR_DATASTAR_INVALID_NAMESPACE',
  'Invalid Datastar namespace "%s"; expected one of: %s',
  500,
  TypeError
)
export const FST_ERR_DATASTAR_INVALID_ARGUMENT = createError(
  'FST_ERR_DATASTAR_INVALID_ARGUMENT',
  'Invalid Datastar argument: %s',
  500,
  TypeError
)
export const FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION = createError(
  'FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION',
  'Invalid fastify-datastar option %s: %s',
  500,
  TypeError
)

// Client mistakes in the signals a request carries: 400.
export const FST_ERR_DATASTAR_SIGNALS_INVALID_JSON = createError(
  'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON',
  'Datastar signals are not valid JSON: %s',
  400
)
export const FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT = createError(
  'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT',
  'Datastar signals must be a JSON object, got %s',
  400
)
export const FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY = createError(
  'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY',
  'Datastar signals contain a forbidden prototype property (__proto__ or constructor.prototype)',
  400
)
export const FST_ERR_DATASTAR_SIGNALS_DUPLICATE = createError(
  'FST_ERR_DATASTAR_SIGNALS_DUPLICATE',
  'The datastar query parameter must be given once, got %s',
  400
)
// Signals come as JSON only: a form or text/plain body (which a cross-site page may send without a preflight) is refused.
export const FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE = createError(
  'FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE',
  'Datastar signals must be sent as JSON, got Content-Type %s',
  415
)
export const FST_ERR_DATASTAR_SIGNALS_TOO_DEEP = createError(
  'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP',
  'Datastar signals are nested deeper than %s levels',
  400
)
// The route's validator threw on what a client sent (rather than answering valid or not).
export const FST_ERR_DATASTAR_SIGNALS_UNVALIDATED = createError(
  'FST_ERR_DATASTAR_SIGNALS_UNVALIDATED',
  'Datastar signals could not be validated: %s',
  400
)
/**
 * A schema violation in signals. It reuses Fastify's own validation code so that
 * handlers and error formatters that look for `FST_ERR_VALIDATION` keep working.
 */
export const FST_ERR_VALIDATION = createError('FST_ERR_VALIDATION', '%s', 400)

// Compression of a stream failed: that stream is closed, the others go on.
export const FST_ERR_SSE_COMPRESSION = createError(
  'FST_ERR_SSE_COMPRESSION',
  'Compressing the event stream with %s failed: %s',
  500
)

// Registries.
export const FST_ERR_REGISTRY_INVALID_OPTION = createError(
  'FST_ERR_REGISTRY_INVALID_OPTION',
  'Invalid registry option %s: %s',
  500,
  TypeError
)
export const FST_ERR_REGISTRY_CLOSED = createError(
  'FST_ERR_REGISTRY_CLOSED',
  'Registry "%s" is closed',
  500
)

// A backplane (Redis) command failed: the broadcast or resume it served is reported, the rest go on.
export const FST_ERR_REGISTRY_BACKPLANE = createError(
  'FST_ERR_REGISTRY_BACKPLANE',
  'Registry backplane %s failed: %s',
  500
)

// The cluster of nodes on one backplane (src/cluster): options, and what a node drops or refuses.
export const FST_ERR_CLUSTER_INVALID_OPTION = createError(
  'FST_ERR_CLUSTER_INVALID_OPTION',
  'Invalid cluster option %s: %s',
  500,
  TypeError
)
export const FST_ERR_CLUSTER_CLOSED = createError(
  'FST_ERR_CLUSTER_CLOSED',
  'Cluster node %s is closed',
  500
)
// Only reported (onError, logged by the plugins): the message is dropped, nothing is thrown into the backplane's read loop.
export const FST_ERR_CLUSTER_MALFORMED_MESSAGE = createError(
  'FST_ERR_CLUSTER_MALFORMED_MESSAGE',
  'Dropped a malformed message on backplane channel %s: %s',
  500
)

// WebSocket resources: mistakes in options (500) and refused upgrades (4xx, real HTTP answers before the 101).
export const FST_ERR_WS_INVALID_OPTION = createError(
  'FST_ERR_WS_INVALID_OPTION',
  'Invalid WebSocket option %s: %s',
  500,
  TypeError
)
export const FST_ERR_WS_RESOURCE_NOT_FOUND = createError(
  'FST_ERR_WS_RESOURCE_NOT_FOUND',
  'No WebSocket resource at %s',
  404
)
export const FST_ERR_WS_UPGRADE_REQUIRED = createError(
  'FST_ERR_WS_UPGRADE_REQUIRED',
  'Route %s answers WebSocket upgrades only',
  426
)
export const FST_ERR_WS_ORIGIN_FORBIDDEN = createError(
  'FST_ERR_WS_ORIGIN_FORBIDDEN',
  'WebSocket upgrade from origin %s is not allowed',
  403
)
export const FST_ERR_WS_UNSUPPORTED_PROTOCOL = createError(
  'FST_ERR_WS_UNSUPPORTED_PROTOCOL',
  'None of the offered WebSocket subprotocols is supported; offered: %s',
  400
)
// What a client sent on an open WebSocket: the connection is closed with the matching close code.
export const FST_ERR_WS_INVALID_MESSAGE = createError(
  'FST_ERR_WS_INVALID_MESSAGE',
  'Invalid WebSocket message: %s',
  400
)
export const FST_ERR_WS_UNSUPPORTED_DATA = createError(
  'FST_ERR_WS_UNSUPPORTED_DATA',
  'This WebSocket resource does not accept %s messages',
  400
)
export const FST_ERR_WS_MESSAGE_TOO_BIG = createError(
  'FST_ERR_WS_MESSAGE_TOO_BIG',
  'WebSocket message of %s bytes is over the limit of %s bytes',
  400
)
export const FST_ERR_WS_MESSAGE_TIMEOUT = createError(
  'FST_ERR_WS_MESSAGE_TIMEOUT',
  'WebSocket message not complete within %s ms of its first bytes',
  408
)
export const FST_ERR_WS_OVERFLOW = createError(
  'FST_ERR_WS_OVERFLOW',
  'Closed a WebSocket client that fell more than %s bytes behind (the hard bound)',
  500
)
export const FST_ERR_WS_STALLED = createError(
  'FST_ERR_WS_STALLED',
  'Closed a WebSocket client that stayed more than %s bytes behind for %s ms',
  500
)
export const FST_ERR_WS_HEARTBEAT_TIMEOUT = createError(
  'FST_ERR_WS_HEARTBEAT_TIMEOUT',
  'Terminated a WebSocket peer that did not answer a ping within %s ms',
  500
)
// The Node WebSocket client (fastify-datastar/websocket-client).
export const FST_ERR_WS_CLIENT_CLOSED = createError(
  'FST_ERR_WS_CLIENT_CLOSED',
  'The WebSocket client is closed',
  500
)
export const FST_ERR_WS_CLIENT_QUEUE_FULL = createError(
  'FST_ERR_WS_CLIENT_QUEUE_FULL',
  'The WebSocket client queued more than %s messages while not connected',
  500
)
export const FST_ERR_WS_CLIENT_NOT_OPEN = createError(
  'FST_ERR_WS_CLIENT_NOT_OPEN',
  'The WebSocket client is not open',
  500
)
// `statusCode` is the HTTP status the server answered the upgrade with.
export const FST_ERR_WS_CLIENT_HANDSHAKE = createError(
  'FST_ERR_WS_CLIENT_HANDSHAKE',
  'The server refused the WebSocket upgrade: HTTP %s',
  502
)

// Browser RPC: a browser function that cannot be shipped to the browser as written.
export const FST_ERR_RPC_INVALID_OPTION = createError(
  'FST_ERR_RPC_INVALID_OPTION',
  'Invalid RPC option %s: %s',
  500,
  TypeError
)
export const FST_ERR_RPC_DUPLICATE_FUNCTION = createError(
  'FST_ERR_RPC_DUPLICATE_FUNCTION',
  'The %s function "%s" is already declared',
  500,
  TypeError
)
export const FST_ERR_RPC_BROWSER_FUNCTION = createError(
  'FST_ERR_RPC_BROWSER_FUNCTION',
  'Browser function "%s" %s',
  500,
  TypeError
)
// The SSE transport's requests (the stream and the POSTs of frames): real HTTP answers, as a refused upgrade's.
export const FST_ERR_RPC_ORIGIN_FORBIDDEN = createError(
  'FST_ERR_RPC_ORIGIN_FORBIDDEN',
  'RPC request from origin %s is not allowed',
  403
)
export const FST_ERR_RPC_INVALID_REQUEST = createError(
  'FST_ERR_RPC_INVALID_REQUEST',
  'Invalid RPC request: %s',
  400
)
export const FST_ERR_RPC_UNKNOWN_CONNECTION = createError(
  'FST_ERR_RPC_UNKNOWN_CONNECTION',
  'No open RPC connection of this session with this key',
  404
)

/**
 * Every error class above by its code (as Fastify's own `errorCodes`): test
 * an error with `error instanceof errorCodes.FST_ERR_SSE_OVERFLOW` or
 * `error.code === 'FST_ERR_SSE_OVERFLOW'`. docs/errors.md documents each one.
 * @example if (err instanceof errorCodes.FST_ERR_WS_CLIENT_HANDSHAKE) console.log(err.statusCode)
 */
export const errorCodes = Object.freeze({
  FST_ERR_SSE_INVALID_FIELD,
  FST_ERR_SSE_INVALID_RETRY,
  FST_ERR_SSE_INVALID_DATA,
  FST_ERR_SSE_INVALID_OPTION,
  FST_ERR_SSE_OVERFLOW,
  FST_ERR_SSE_STALLED,
  FST_ERR_SSE_ALREADY_STARTED,
  FST_ERR_SSE_COMPRESSION,
  FST_ERR_DATASTAR_INVALID_MODE,
  FST_ERR_DATASTAR_INVALID_NAMESPACE,
  FST_ERR_DATASTAR_INVALID_ARGUMENT,
  FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION,
  FST_ERR_DATASTAR_SIGNALS_INVALID_JSON,
  FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT,
  FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY,
  FST_ERR_DATASTAR_SIGNALS_DUPLICATE,
  FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE,
  FST_ERR_DATASTAR_SIGNALS_TOO_DEEP,
  FST_ERR_DATASTAR_SIGNALS_UNVALIDATED,
  FST_ERR_VALIDATION,
  FST_ERR_REGISTRY_INVALID_OPTION,
  FST_ERR_REGISTRY_CLOSED,
  FST_ERR_REGISTRY_BACKPLANE,
  FST_ERR_CLUSTER_INVALID_OPTION,
  FST_ERR_CLUSTER_CLOSED,
  FST_ERR_CLUSTER_MALFORMED_MESSAGE,
  FST_ERR_WS_INVALID_OPTION,
  FST_ERR_WS_RESOURCE_NOT_FOUND,
  FST_ERR_WS_UPGRADE_REQUIRED,
  FST_ERR_WS_ORIGIN_FORBIDDEN,
  FST_ERR_WS_UNSUPPORTED_PROTOCOL,
  FST_ERR_WS_INVALID_MESSAGE,
  FST_ERR_WS_UNSUPPORTED_DATA,
  FST_ERR_WS_MESSAGE_TOO_BIG,
  FST_ERR_WS_MESSAGE_TIMEOUT,
  FST_ERR_WS_OVERFLOW,
  FST_ERR_WS_STALLED,
  FST_ERR_WS_HEARTBEAT_TIMEOUT,
  FST_ERR_WS_CLIENT_CLOSED,
  FST_ERR_WS_CLIENT_QUEUE_FULL,
  FST_ERR_WS_CLIENT_NOT_OPEN,
  FST_ERR_WS_CLIENT_HANDSHAKE,
  FST_ERR_RPC_INVALID_OPTION,
  FST_ERR_RPC_DUPLICATE_FUNCTION,
  FST_ERR_RPC_BROWSER_FUNCTION,
  FST_ERR_RPC_ORIGIN_FORBIDDEN,
  FST_ERR_RPC_INVALID_REQUEST,
  FST_ERR_RPC_UNKNOWN_CONNECTION
})
