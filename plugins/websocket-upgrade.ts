/**
 * Where the WebSocket plugin reaches past public APIs, read from
 * @fastify/websocket 11.3.6 (index.js), ws 8.23.0 (lib/websocket.js,
 * lib/websocket-server.js) and node:http's ServerResponse (Node 20 to 24):
 * - what a finished upgrade leaves behind that a long-lived connection does
 *   not need is let go. Each step does nothing when what it looks for is not
 *   there, so a version that moves it costs memory, not correctness;
 *   test/websocket/resource.test.ts checks that each still finds it.
 * - the subprotocol a resource chose before the 101 is answered by swapping
 *   ws's `handleProtocols` option on the server @fastify/websocket made
 *   (ws reads it at each upgrade); the protocol tests check the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'

/**
 * Releases what the upgrade's HTTP exchange holds once its socket belongs to a
 * resource client (which handles the socket's errors itself).
 * @example releaseUpgrade(socket, request.raw, reply.raw)
 */
export function releaseUpgrade (socket: WebSocket, request: IncomingMessage, response: ServerResponse | undefined): void {
  removeRouteErrorListener(socket)
  if (response?.socket != null) response.detachSocket(response.socket)
  releaseHead(request)
}

// @fastify/websocket adds an 'error' listener to each socket just before it
// calls the route's handler, so it is the last one (ws adds none of its own to
// the WebSocket): it closes over the reply, and would log client mistakes as
// errors where the client logs them at info.
function removeRouteErrorListener (socket: WebSocket): void {
  const theirs = socket.listeners('error').at(-1) as ((error: Error) => void) | undefined
  if (theirs !== undefined) socket.removeListener('error', theirs)
}

// @fastify/websocket keeps the upgrade's `head` Buffer on the raw request under
// Symbol('ws-head'): a slice that keeps the whole first packet alive. ws's
// setSocket() has already put its bytes back into the socket.
function releaseHead (request: IncomingMessage): void {
  const head = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === 'ws-head')
  if (head !== undefined) (request as unknown as Record<symbol, unknown>)[head] = undefined
}

type HandleProtocols = (protocols: Set<string>, request: IncomingMessage) => string | false

/**
 * Makes `server` (ws's WebSocketServer) answer an upgrade with the subprotocol
 * `chosen` gives for its request; for other requests, with what it answered
 * before (its own `handleProtocols`, else ws's default: the first offered).
 * @example answerProtocolsWith(fastify.websocketServer, (request) => chosenProtocols.get(request))
 */
export function answerProtocolsWith (server: { options: object }, chosen: (request: IncomingMessage) => string | undefined): void {
  const options = server.options as { handleProtocols?: HandleProtocols | null }
  const previous = options.handleProtocols
  options.handleProtocols = (protocols, request) => {
    const protocol = chosen(request)
    if (protocol !== undefined) return protocol
    if (typeof previous === 'function') return previous(protocols, request)
    return protocols.values().next().value ?? false
  }
}
