/**
 * Prometheus metrics from the diagnostics channels and `registry.stats()`,
 * with prom-client (docs/observability.md walks through it).
 *
 * - Counters follow the channels: each message increments them as it happens
 *   (streams closed by reason, events and bytes a registry broadcast).
 * - Gauges read `stats()` when Prometheus scrapes (members of each registry).
 * - `GET /metrics` answers in the Prometheus text format.
 *
 * The channels are the process's: one metrics plugin per process sees every
 * app's streams and registries. It unsubscribes when its app closes.
 *
 * Run it alone: `npm run build && node dist/examples/observability.js`, open
 * http://127.0.0.1:3011/feed in a tab, `curl -X POST http://127.0.0.1:3011/say`
 * a few times, then `curl http://127.0.0.1:3011/metrics`.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Registry as MetricsRegistry } from 'prom-client'
import type { DiagnosticMessages } from 'fastify-datastar/core'
import { exampleApp, isMain, serveAlone } from './run-alone.js'

/** Options of the metrics plugin. */
export interface MetricsOptions {
  /** The broadcast registries whose stats() the gauges read at each scrape. */
  registries: string[]
}

/** Prometheus metrics of the streams and registries, served at `GET /metrics`; register `fastify-datastar` first. */
export const metrics = fp<MetricsOptions>(async (fastify, options) => {
  // A registry of the app's own (not prom-client's global one), so that each app counts apart.
  const register = new MetricsRegistry()
  const openStreams = new Gauge({ name: 'datastar_sse_streams_open', help: 'SSE streams open now', registers: [register] })
  const closedStreams = new Counter({ name: 'datastar_sse_streams_closed_total', help: 'SSE streams closed, by who closed them', labelNames: ['reason'], registers: [register] })
  const events = new Counter({ name: 'datastar_registry_events_total', help: 'Events broadcast by each registry', labelNames: ['registry'], registers: [register] })
  const bytes = new Counter({ name: 'datastar_registry_bytes_total', help: 'Bytes registries handed to subscribers', labelNames: ['registry'], registers: [register] })
  const registries = options.registries.map((name) => fastify.registry(name))
  // eslint-disable-next-line no-new -- registered by its constructor, read through collect()
  new Gauge({
    name: 'datastar_registry_members',
    help: 'Subscribers of each registry',
    labelNames: ['registry'],
    registers: [register],
    collect () {
      for (const registry of registries) this.set({ registry: registry.name }, registry.stats().members)
    }
  })

  const listeners = {
    'fastify-datastar:sse:open': () => { openStreams.inc() },
    'fastify-datastar:sse:close': (message: unknown) => {
      const { reason } = message as DiagnosticMessages['fastify-datastar:sse:close']
      openStreams.dec()
      closedStreams.inc({ reason })
    },
    'fastify-datastar:registry:broadcast': (message: unknown) => {
      const broadcast = message as DiagnosticMessages['fastify-datastar:registry:broadcast']
      events.inc({ registry: broadcast.registry.name }, broadcast.events)
      bytes.inc({ registry: broadcast.registry.name }, broadcast.bytes * broadcast.subscribers)
    }
  }
  for (const [name, listener] of Object.entries(listeners)) subscribe(name, listener)
  fastify.addHook('onClose', async () => {
    for (const [name, listener] of Object.entries(listeners)) unsubscribe(name, listener)
  })

  fastify.get('/metrics', async (_request, reply) => reply.type(register.contentType).send(await register.metrics()))
}, { name: 'datastar-metrics', dependencies: ['fastify-datastar'] })

/** A feed to measure: `GET /feed` subscribes a stream, `POST /say` broadcasts to them. */
const feed: FastifyPluginAsync = async (fastify) => {
  fastify.get('/feed', async (_request, reply) => {
    fastify.registry('feed').add(reply.datastar())
  })
  fastify.post('/say', async (_request, reply) => {
    await fastify.registry('feed').patchElements(`<p id="said">${new Date().toISOString()}</p>`)
    return reply.code(204).send()
  })
}

/** The feed with its metrics. */
export async function buildObservabilityApp (options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(async (fastify) => {
    await fastify.register(metrics, { registries: ['feed'] })
    await fastify.register(feed)
  }, options)
}

if (isMain(import.meta.url)) await serveAlone(() => buildObservabilityApp({ logger: true }), 3011, 'observability example', '/metrics')
