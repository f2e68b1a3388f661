/**
 * `fastify-datastar/websocket-client`: a reconnecting WebSocket client for
 * Node, with websocket-driver's events and a bounded send queue.
 * @example
 * import { WebSocketClient } from 'fastify-datastar/websocket-client'
 * const client = new WebSocketClient('ws://127.0.0.1:3000/chat/bongo')
 * client.on('message', (event) => { console.log(event.data) })
 */
export { WebSocketClient, type WebSocketClientCloseEvent, type WebSocketClientData, type WebSocketClientEvents, type WebSocketClientMessageEvent, type WebSocketClientOptions, type WebSocketClientReconnectingEvent } from './client.js'
export type { ReconnectOptions } from './backoff.js'
