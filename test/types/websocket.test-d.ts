// Type tests of the WebSocket plugin: app.resource(), handlers, typed messages and data, clients, broadcast.
import { expectAssignable, expectError, expectType } from 'tsd'
import Fastify, { type FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import websocket, { CloseCode, type Resource, type ResourceClient, type ResourceRoute } from 'fastify-datastar/websocket'
import type { Subscriber } from 'fastify-datastar/registry'
import type * as core from 'fastify-datastar/core'

const app = Fastify()
app.register(websocket, { heartbeat: 10_000, origins: ['https://app.example.com'], overflow: 'drop-oldest', closeTimeout: 500, hardMaxBufferedBytes: 1 << 24, stallTimeout: 5000, messageTimeout: 10_000 })
app.register(websocket, { origins: (origin) => origin.endsWith('.example.com'), websocket: { options: { maxPayload: 4096 } } })
expectError(app.register(websocket, { overflow: 'grow' }))
expectError(app.register(websocket, { envelope: 'xml' }))

// Without a schema, text messages are strings and data defaults to a record.
const echo = app.resource('/echo', {
  message: (client, text) => {
    expectType<string>(text)
    expectType<FastifyRequest>(client.request)
    expectType<Record<string, unknown>>(client.data)
    client.send(text)
    client.send({ echoed: text })
    client.send(Buffer.from(text))
  },
  binary: (client, data) => { expectType<Buffer>(data) },
  disconnected: (client, code, reason) => { expectType<number>(code); expectType<string>(reason) }
})
expectType<ResourceRoute<Record<string, unknown>, string>>(echo)
// The plugin's types are the core classes with the upgrade's FastifyRequest as their request.
expectType<core.ResourceRoute<Record<string, unknown>, FastifyRequest, string>>(echo)

// A TypeBox schema types the messages; Data types the per-client data.
const Say = Type.Object({ type: Type.Literal('say'), text: Type.String() })
const chat = app.resource<{ name: string }, typeof Say>('/chat/:room', {
  schema: Say,
  resolve: async (request) => (request.params as { room: string }).room,
  data: (request) => ({ name: String((request.query as { name?: string }).name) }),
  connected: async (client) => { expectType<{ name: string }>(client.data) },
  message: (client, message) => {
    expectType<'say'>(message.type)
    expectType<string>(message.text)
    expectType<number>(client.resource.broadcast({ from: client.data.name, text: message.text }, { except: client, filter: (other) => other.data.name !== 'x' }))
    client.close(CloseCode.NORMAL, 'done')
  }
})
expectType<Resource<{ name: string }, { type: 'say', text: string }> | undefined>(chat.get('bongo'))
expectType<ReadonlyMap<string, Resource<{ name: string }, { type: 'say', text: string }>>>(chat.instances)
expectType<core.Resource<core.ResourceClient<{ name: string }, FastifyRequest, { type: 'say', text: string }>> | undefined>(chat.get('bongo'))

expectError(app.resource('/bad', { resolve: () => 42 }))
expectError(app.resource('/bad', { invalidMessage: 'ignore' }))

// A client is a registry subscriber.
app.resource('/feed', {
  connected: (client) => {
    expectAssignable<Subscriber>(client)
    expectType<number>(client.bufferedAmount)
    expectType<string | undefined>(client.lastEventId)
    const typed: ResourceClient = client
    typed.ping()
    expectType<Resource>(client.resource)
  }
})

// What the package's own modules drive a client, a room and a route with is not theirs to call.
app.resource('/internals', {
  connected: (client) => {
    expectError(client.start())
    expectError(client.receive(Buffer.from('hi'), false))
    expectError(client.closed(1000, ''))
    expectError(client.errored(new Error('x')))
    expectError(client.ponged())
    expectError(client.heartbeat())
    expectError(client.resource.add(client))
    expectError(client.resource.remove(client))
  }
})
expectError(echo.drop(echo.get('/echo')!))
