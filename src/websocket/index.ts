/** WebSocket resources: rooms of clients, handlers, broadcast, heartbeat, Origin and subprotocol checks. */
export * from './client.js'
export * from './close-codes.js'
export * from './envelope.js'
export * from './message.js'
export * from './options.js'
export * from './origin.js'
export * from './protocol.js'
export * from './resource.js'
