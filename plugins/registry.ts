/**
 * `fastify-datastar/registry`: named broadcast registries on the instance
 * (`fastify.registry(name)`), closed with the app, and the long-poll transport
 * over them (`reply.longPoll(registry)`).
 *
 * @example
 * await app.register(registry, { replay: 500 })
 * app.get('/feed', async (request, reply) => { app.registry('feed').add(reply.datastar()) })
 * app.post('/say', async (request) => { await app.registry('feed').patchElements(render(request.body)) })
 * app.get('/poll', (request, reply) => reply.longPoll('feed'))
 */
import fp from 'fastify-plugin'
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import { FST_ERR_REGISTRY_INVALID_OPTION } from '../src/errors.js'
import { Registry } from '../src/registry/registry.js'
import { validateRegistryOptions, type RegistryOptions } from '../src/registry/options.js'
import type { Subscriber } from '../src/registry/subscriber.js'
import type { DatastarStream } from '../src/datastar/stream.js'
import { closeBackplaneOnce } from '../src/registry/backplane.js'

/** Defaults of every registry of the instance. */
export type RegistryPluginOptions = Omit<RegistryOptions, 'onResync' | 'onError'>

/** Options of `reply.longPoll()`. */
export interface LongPollOptions {
  /** The last event id the client has; default: the `cursor` query parameter, else `Last-Event-ID`. */
  cursor?: string
  /** How long to hold the request, in ms (±10 % jitter). Default 25 000. */
  timeout?: number
  /** Also receive this key's unicast events. */
  key?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The registry named `name`, created on first use (with `options`, which
     * later calls may not change). Registries close with the app.
     * @example app.registry('chat').patchElements('<li>hi</li>', { selector: '#log', mode: 'append' })
     */
    registry<S extends Subscriber = DatastarStream>(name: string, options?: RegistryOptions<S>): Registry<S>
  }

  interface FastifyReply {
    /**
     * Answers a long-poll request from a registry: at once with the events
     * newer than the client's cursor, else with the next event, or 204 after
     * the timeout; 205 when the cursor is older than the replay ring (reload
     * the full state). The `X-Registry-Cursor` header carries the cursor to
     * send next time.
     * @example app.get('/poll', (request, reply) => reply.longPoll('feed'))
     */
    longPoll(registry: Registry<Subscriber> | string, options?: LongPollOptions): Promise<FastifyReply>
  }
}

/** Header that carries the cursor of a long-poll answer. */
export const CURSOR_HEADER = 'x-registry-cursor'

const registryPlugin: FastifyPluginCallback<RegistryPluginOptions> = (fastify, options, done) => {
  let defaults: RegistryPluginOptions
  try {
    defaults = validateRegistryOptions({ backplane: options.backplane, replay: options.replay, coalesce: options.coalesce })
  } catch (error) {
    done(error as Error)
    return
  }
  const registries = new Map<string, Registry<Subscriber>>()

  function registry<S extends Subscriber> (name: string, registryOptions?: RegistryOptions<S>): Registry<S> {
    const existing = registries.get(name)
    if (existing !== undefined) {
      if (registryOptions !== undefined) throw new FST_ERR_REGISTRY_INVALID_OPTION(name, 'a registry\'s options are given when it is first used')
      return existing as unknown as Registry<S>
    }
    const created = new Registry<S>(name, {
      ...defaults,
      ...registryOptions,
      onError: (err) => { fastify.log.error({ err, registry: name }, 'registry subscriber error') }
    })
    registries.set(name, created as unknown as Registry<Subscriber>)
    return created
  }

  fastify.decorate('registry', registry)
  fastify.decorateReply('longPoll', async function (this: FastifyReply, target: Registry<Subscriber> | string, pollOptions: LongPollOptions = {}) {
    const reply = this
    const source = typeof target === 'string' ? registry(target) : target
    const request = reply.request
    const query = request.query as Record<string, unknown> | undefined
    const header = request.headers['last-event-id']
    const cursor = pollOptions.cursor ?? (typeof query?.cursor === 'string' ? query.cursor : undefined) ?? (typeof header === 'string' ? header : undefined)
    // The waiter goes as soon as the client does.
    const abort = new AbortController()
    const onClose = (): void => { if (!reply.raw.writableEnded) abort.abort() }
    reply.raw.on('close', onClose)
    const result = await source.poll(cursor, { timeout: pollOptions.timeout, key: pollOptions.key, signal: abort.signal })
    reply.raw.removeListener('close', onClose)
    if (result.status === 'aborted') return reply.hijack()
    reply.header('cache-control', 'no-cache')
    reply.header(CURSOR_HEADER, result.cursor)
    if (result.status === 'events') return reply.type('text/event-stream').send(result.events)
    return reply.code(result.status === 'reset' ? 205 : 204).send()
  })
  // Long-poll waiters would keep server.close() waiting: answer them first.
  fastify.addHook('preClose', async () => {
    await Promise.all([...registries.values()].map((open) => open.close()))
  })
  fastify.addHook('onClose', async () => {
    // Once, though the WebSocket plugin may have been given the same backplane.
    if (defaults.backplane !== undefined) await closeBackplaneOnce(defaults.backplane)
  })
  done()
}

/** The registry plugin (registered by the umbrella plugin too). */
export const registry = fp(registryPlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-registry'
})

export default registry
export { Registry }
export { MemoryBackplane, type Backplane, type BackplaneEvent, type BackplaneListener, type BackplaneMessage, type EphemeralListener } from '../src/registry/backplane.js'
export type { SharedStore } from '../src/cluster/store.js'
export type { Broadcaster } from '../src/registry/broadcaster.js'
export type { PollResult } from '../src/registry/long-poll.js'
export type { AddOptions, PollOptions, RegistryOptions } from '../src/registry/options.js'
export type { BroadcastOptions } from '../src/broadcast.js'
export type { Subscriber }
