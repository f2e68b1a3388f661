/**
 * The types of `fastify-datastar/websocket` that name what an application
 * holds (its clients, rooms and routes, typed with the FastifyRequest), in a
 * module of their own: the root entry point re-exports them without loading
 * the plugin's declaration merging (`app.resource()`) or @fastify/websocket's.
 */
import type { FastifyRequest } from 'fastify'
import type { Static, TSchema } from '@sinclair/typebox'
import type { ResourceClient as CoreResourceClient, ResourceHandlers as CoreResourceHandlers } from '../src/websocket/resource-client.js'
import type { Resource as CoreResource } from '../src/websocket/resource.js'
import type { ResourceRoute as CoreResourceRoute } from '../src/websocket/resource-route.js'

/** The message type of a resource: `Static<schema>` for a TypeBox schema, else the text. */
export type ResourceMessage<Schema> = Schema extends TSchema ? Static<Schema> : string

/**
 * A connected client of a resource declared with this plugin: its `request` is the upgrade's FastifyRequest.
 * @example const players = new Set<ResourceClient<{ name: string }>>()
 */
export type ResourceClient<Data = Record<string, unknown>, Message = string> = CoreResourceClient<Data, FastifyRequest, Message>

/**
 * One instance (room) of a resource declared with this plugin: its clients and `broadcast()`.
 * @example const room: Resource | undefined = chat.get('bongo')
 */
export type Resource<Data = Record<string, unknown>, Message = string> = CoreResource<ResourceClient<Data, Message>>

/**
 * A resource declared with this plugin (what `app.resource()` returns): its instances by name.
 * @example const chat: ResourceRoute<{ name: string }> = app.resource('/chat/:room', {})
 */
export type ResourceRoute<Data = Record<string, unknown>, Message = string> = CoreResourceRoute<Data, FastifyRequest, Message>

/**
 * The handlers of a resource declared with this plugin (Hunchensocket's generic functions).
 * @example const handlers: ResourceHandlers<{ name: string }> = { connected: (client) => { client.send('hi') } }
 */
export type ResourceHandlers<Data = Record<string, unknown>, Message = string> = CoreResourceHandlers<Data, FastifyRequest, Message>
