/**
 * The observability example, over real sockets of 127.0.0.1: streams open and
 * leave, the feed broadcasts, and `GET /metrics` reports exactly that, counters
 * from the diagnostics channels and gauges from `registry.stats()`.
 */
import { hasSubscribers } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { buildObservabilityApp } from '../examples/observability.js'
import { listen, openStream, waitFor, within } from './helpers.js'

/** The value of the sample `series` (name and labels, as printed) in a Prometheus text exposition. */
function sample (exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

test('GET /metrics counts the streams, their closes and the broadcasts, and reads the registry\'s members', async (t) => {
  const app = await buildObservabilityApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const [stays, leaves] = await Promise.all([openStream(base + '/feed'), openStream(base + '/feed')])
  if (stays === undefined || leaves === undefined) throw new Error('no streams')
  t.teardown(() => { stays.destroy() })
  await waitFor(() => app.registry('feed').size === 2, 'both subscribed')
  for (let said = 0; said < 2; said++) t.equal((await fetch(base + '/say', { method: 'POST' })).status, 204)
  await within(stays.event(1), 5000, 'both broadcasts')
  leaves.destroy()
  await waitFor(() => app.registry('feed').size === 1, 'one stream left')

  const response = await fetch(base + '/metrics')
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const metrics = await response.text()
  t.equal(sample(metrics, 'datastar_sse_streams_open'), 1)
  t.equal(sample(metrics, 'datastar_sse_streams_closed_total{reason="client"}'), 1)
  t.equal(sample(metrics, 'datastar_registry_events_total{registry="feed"}'), 2)
  // Both broadcasts went to both streams: what one stream received, twice.
  t.equal(sample(metrics, 'datastar_registry_bytes_total{registry="feed"}'), 2 * Buffer.byteLength(stays.text()))
  t.equal(sample(metrics, 'datastar_registry_members{registry="feed"}'), 1)
})

test('the metrics plugin unsubscribes when its app closes', async (t) => {
  const app = await buildObservabilityApp()
  await app.ready()
  t.equal(hasSubscribers('fastify-datastar:sse:close'), true)
  await app.close()
  for (const name of ['fastify-datastar:sse:open', 'fastify-datastar:sse:close', 'fastify-datastar:registry:broadcast']) t.equal(hasSubscribers(name), false, name)
})

test('the Prometheus sample of docs/observability.md is the example\'s code', async (t) => {
  const docs = readFileSync(new URL('../docs/observability.md', import.meta.url), 'utf8')
  const sample = /## Prometheus with prom-client[\s\S]*?```ts\n([\s\S]*?)```/.exec(docs)?.[1]
  if (sample === undefined) throw new Error('no sample')
  const example = new Set(readFileSync(new URL('../examples/observability.ts', import.meta.url), 'utf8').split('\n'))
  t.same(sample.split('\n').filter((line) => line !== '' && !example.has(line)), [], 'lines of the sample the example does not have')
})
