/**
 * Keys of what the package's own modules use on each other's objects but an
 * application never calls (as Fastify's lib/symbols.js): behind symbols they
 * stay off the public classes' names, their autocompletion and their semver
 * promise. Only the package imports this module; no subpath exports it.
 */

/** A periodic tick: an SSE keep-alive comment, a WebSocket ping (see heartbeat.ts). */
export const kHeartbeat = Symbol('fastify-datastar.heartbeat')

// A WebSocket resource client's life, driven by its socket and its route.
/** Begins a client's life: listen to its socket, run `connected`. */
export const kStart = Symbol('fastify-datastar.websocket.start')
/** A message read from the socket. */
export const kReceive = Symbol('fastify-datastar.websocket.receive')
/** The socket closed. */
export const kClosed = Symbol('fastify-datastar.websocket.closed')
/** ws reported an error on the socket. */
export const kErrored = Symbol('fastify-datastar.websocket.errored')
/** The network socket under a client's ws socket was read. */
export const kRead = Symbol('fastify-datastar.websocket.read')
/** A pong arrived. */
export const kPonged = Symbol('fastify-datastar.websocket.ponged')
/** A resource instance takes in a client. */
export const kAdd = Symbol('fastify-datastar.websocket.add')
/** A resource instance hands a shared message to its clients (a local broadcast, or one relayed from another node). */
export const kDeliver = Symbol('fastify-datastar.websocket.deliver')
/** A resource instance lets a client go. */
export const kRemove = Symbol('fastify-datastar.websocket.remove')
/** A closed client goes out of its room through the route that accepted it (set on the route's client definition). */
export const kLeave = Symbol('fastify-datastar.websocket.leave')
/** The client a ws socket belongs to (shared socket listeners find it there). */
export const kClient = Symbol('fastify-datastar.websocket.client')

/** The SSE stream a response belongs to (shared response listeners find it there). */
export const kStream = Symbol('fastify-datastar.stream')
/** Where the SSE plugin keeps an instance's stream tracker (shared with the Datastar plugin). */
export const kStreamTracker = Symbol('fastify-datastar.streamTracker')
/** A request's signals, once read. */
export const kSignals = Symbol('fastify-datastar.signals')
/** Marks a socket whose TCP_NODELAY is already set. */
export const kNoDelay = Symbol('fastify-datastar.noDelay')

/** Starts a session's call with its arguments already JSON, its outcome heard by a callback (a call to many sessions). */
export const kStartCall = Symbol('fastify-datastar.rpc.startCall')
/** The hex hash of a session's resume token, for its record across nodes. */
export const kTokenHash = Symbol('fastify-datastar.rpc.tokenHash')
