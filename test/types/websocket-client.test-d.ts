// Type tests of `fastify-datastar/websocket-client`: the options, the typed
// events and their payloads, send(), ping() in both forms, close() and the
// read-only properties.
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import type WebSocket from 'ws'
import {
  WebSocketClient,
  type ReconnectOptions,
  type WebSocketClientCloseEvent,
  type WebSocketClientData,
  type WebSocketClientEvents,
  type WebSocketClientMessageEvent,
  type WebSocketClientOptions,
  type WebSocketClientReconnectingEvent
} from 'fastify-datastar/websocket-client'

// Construction and options.
const client = new WebSocketClient('ws://127.0.0.1:3000/chat/bongo')
expectType<WebSocketClient>(new WebSocketClient(new URL('ws://127.0.0.1:3000/')))
expectType<WebSocketClient>(new WebSocketClient('ws://127.0.0.1:3000/', {
  protocols: ['chat.v2', 'chat.v1'],
  headers: { authorization: 'Bearer abc' },
  origin: 'http://app.test',
  reconnect: { initialDelay: 250, maxDelay: 10_000, factor: 1.5, jitter: 0.3, maxRetries: 10, closeCodes: [1001, 1005, 1006] },
  maxQueued: 100,
  wsOptions: { handshakeTimeout: 5000, perMessageDeflate: false }
}))
expectType<WebSocketClient>(new WebSocketClient('ws://127.0.0.1:3000/', { protocols: 'chat.v1', reconnect: false }))
expectAssignable<WebSocketClientOptions>({ reconnect: {} })
expectAssignable<ReconnectOptions>({ maxRetries: Infinity })
expectAssignable<ReconnectOptions>({ resetAfter: 0 })
expectAssignable<WebSocketClientOptions>({ maxPayload: 4 * 1024 * 1024 })
expectNotAssignable<WebSocketClientOptions>({ maxPayload: '4MB' })
expectNotAssignable<WebSocketClientOptions>({ reconnect: true })
expectNotAssignable<WebSocketClientOptions>({ maxQueued: '10' })
expectNotAssignable<WebSocketClientOptions>({ headers: { 'x-count': 2 } })
expectNotAssignable<ReconnectOptions>({ jitter: '0.2' })
expectError(new WebSocketClient())
expectError(new WebSocketClient(3000))

// Typed events.
client.on('open', () => {})
client.on('message', (event) => {
  expectType<WebSocketClientMessageEvent>(event)
  if (event.binary) expectType<Buffer>(event.data)
  else expectType<string>(event.data)
})
client.on('close', (event) => {
  expectType<WebSocketClientCloseEvent>(event)
  expectType<number>(event.code)
  expectType<string>(event.reason)
  expectType<boolean>(event.reconnecting)
})
client.once('reconnecting', (event) => {
  expectType<WebSocketClientReconnectingEvent>(event)
  expectType<number>(event.attempt)
  expectType<number>(event.delay)
})
client.on('error', (error) => { expectType<Error>(error) })
client.off('open', () => {})
expectAssignable<WebSocketClientEvents['close']>([{ code: 1000, reason: '', reconnecting: false }])
expectError(client.on('message', (event: string) => {}))
expectError(client.on('nope', () => {}))

// Sending.
expectType<boolean>(client.send('text'))
expectType<boolean>(client.send(Buffer.from('bytes')))
expectType<boolean>(client.send(new Uint8Array(2)))
expectType<boolean>(client.send({ type: 'join' }))
expectAssignable<WebSocketClientData>(null)
expectError(client.send())
expectError(client.send(undefined))

// Pings.
expectType<boolean>(client.ping())
expectType<boolean>(client.ping('payload'))
expectType<boolean>(client.ping(undefined, (roundTripMs) => { expectType<number>(roundTripMs) }))
expectType<Promise<number>>(client.roundTrip())
expectType<Promise<number>>(client.roundTrip(Buffer.from('x')))
expectError(client.ping(42))

// Closing and state.
expectType<Promise<void>>(client.close())
expectType<Promise<void>>(client.close(1000, 'bye'))
expectError(client.close('1000'))
expectType<number>(client.readyState)
expectType<string>(client.protocol)
expectType<string>(client.url)
expectType<number>(client.bufferedAmount)
expectType<WebSocket | null>(client.socket)
expectType<0>(WebSocketClient.CONNECTING)
expectType<1>(WebSocketClient.OPEN)
expectType<2>(WebSocketClient.CLOSING)
expectType<3>(WebSocketClient.CLOSED)
expectError(client.readyState = 1)
