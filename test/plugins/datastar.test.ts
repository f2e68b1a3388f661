import t from 'tap'
import Fastify from 'fastify'
import { gunzipSync } from 'node:zlib'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import datastar, { sse, datastar as datastarPlugin } from '../../plugins/index.js'
import { datastarUrl, DATASTAR_VERSION } from '../../src/datastar/url.js'
import { listen, openStream } from '../helpers.js'

t.test('reply.datastar() writes every protocol method in order on a live stream', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.get('/feed', async (_request, reply) => {
    const stream = reply.datastar()
    stream.patchElements('<div id="feed">1</div>', { mode: 'inner', selector: '#box', namespace: 'svg', useViewTransition: true, viewTransitionSelector: '#main', eventId: 'e1', retryDuration: 2000 })
    stream.removeElements('#toast')
    stream.removeElementsById(['a', 'b'])
    stream.patchSignals({ count: 1 }, { onlyIfMissing: true })
    stream.removeSignals(['user.name', 'draft'])
    stream.executeScript('console.log("</script>")', { attributes: { type: 'module' } })
    stream.redirect('/next')
    stream.consoleLog('hi')
    stream.consoleError(new Error('boom'))
    stream.dispatchCustomEvent('saved', { id: 1 })
    stream.replaceUrl('/page/2')
    stream.prefetch(['/a'])
    // An invalid option throws before anything is written; the stream goes on.
    t.throws(() => stream.patchElements('<p id="x"></p>', { mode: 'sideways' as 'inner' }), { code: 'FST_ERR_DATASTAR_INVALID_MODE' })
    t.throws(() => stream.patchElements('<p id="x"></p>', { namespace: 'xml' as 'svg' }), { code: 'FST_ERR_DATASTAR_INVALID_NAMESPACE' })
    stream.close()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed')
  await client.ended
  const events = client.events
  t.equal(events.length, 12)
  t.same(events[0]?.dataLines, ['selector #box', 'mode inner', 'useViewTransition true', 'viewTransitionSelector #main', 'namespace svg', 'elements <div id="feed">1</div>'])
  t.equal(events[0]?.id, 'e1')
  t.equal(events[0]?.retry, 2000)
  t.same(events[1]?.dataLines, ['selector #toast', 'mode remove'])
  t.same(events[2]?.dataLines, ['mode remove', 'elements <div id="a"></div><div id="b"></div>'])
  t.same(events[3]?.dataLines, ['onlyIfMissing true', 'signals {"count":1}'])
  t.same(events[4]?.dataLines, ['signals {"draft":null,"user":{"name":null}}'])
  t.same(events[5]?.dataLines, ['mode append', 'selector body', 'elements <script type="module" data-effect="el.remove()">console.log("<\\/script>")</script>'])
  t.match(events[6]?.data, /window\.location\.href = "\/next"/)
  t.match(events[7]?.data, /console\.log\("hi"\)/)
  t.match(events[8]?.data, /console\.error\("boom"\)/)
  t.match(events[9]?.data, /new CustomEvent\("saved"/)
  t.match(events[10]?.data, /replaceState\(\{\}, '', "\/page\/2"\)/)
  t.match(events[11]?.data, /<script type="speculationrules">\{"prefetch":\[\{"source":"list","urls":\["\/a"\]\}\]\}<\/script>/)
})

t.test('one-shot replies answer without SSE and go through the normal send path', async (t) => {
  const app = Fastify()
  await app.register(import('@fastify/compress'), { global: true, threshold: 0 })
  await app.register(datastar)
  const html = '<ul id="list">' + '<li>item</li>'.repeat(100) + '</ul>'
  app.get('/elements', async (_request, reply) => reply.datastarElements(html, { selector: '#list', mode: 'inner', useViewTransition: true }))
  app.get('/signals', async (_request, reply) => reply.datastarSignals({ count: 2 }, { onlyIfMissing: true }))
  app.get('/script', async (_request, reply) => reply.datastarScript('console.log(1)', { attributes: { type: 'module' } }))
  t.teardown(() => app.close())

  const elements = await app.inject({ url: '/elements', headers: { 'accept-encoding': 'gzip' } })
  t.equal(elements.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(elements.headers['datastar-selector'], '#list')
  t.equal(elements.headers['datastar-mode'], 'inner')
  t.equal(elements.headers['datastar-use-view-transition'], 'true')
  t.equal(elements.headers['content-encoding'], 'gzip', '@fastify/compress compressed it')
  t.equal(gunzipSync(elements.rawPayload).toString(), html)

  const signals = await app.inject('/signals')
  t.equal(signals.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(signals.headers['datastar-only-if-missing'], 'true')
  t.same(signals.json(), { count: 2 })

  const script = await app.inject('/script')
  t.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
  t.same(JSON.parse(script.headers['datastar-script-attributes'] as string), { type: 'module' })
  t.equal(script.body, 'console.log(1)')
})

t.test('datastarUrl() and the client option pin or self-host the client', async (t) => {
  t.equal(datastarUrl(), `https://cdn.jsdelivr.net/gh/starfederation/datastar@${DATASTAR_VERSION}/bundles/datastar.js`)
  const pinned = Fastify()
  await pinned.register(datastar, { client: { version: '1.0.0' } })
  t.equal(pinned.datastarUrl(), 'https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0/bundles/datastar.js')
  await pinned.close()

  const directory = await mkdtemp(join(tmpdir(), 'datastar-client-'))
  const file = join(directory, 'datastar.js')
  await writeFile(file, 'export const served = true\n')
  const hosted = Fastify()
  await hosted.register(datastar, { client: { file, source: '/assets/datastar-{version}.js' } })
  t.teardown(() => hosted.close())
  t.equal(hosted.datastarUrl(), `/assets/datastar-${DATASTAR_VERSION}.js`)
  const response = await hosted.inject(hosted.datastarUrl())
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'text/javascript; charset=utf-8')
  t.equal(response.body, 'export const served = true\n')

  await t.rejects(async () => { await Fastify().register(datastar, { client: { file: join(directory, 'missing.js') } }) }, { code: 'FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION' })
  await t.rejects(async () => { await Fastify().register(datastar, { client: { version: 'not a version' } }) }, { code: 'FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION' })
})

t.test('sub-plugins work alone: SSE without Datastar, Datastar bringing SSE', async (t) => {
  const sseOnly = Fastify()
  await sseOnly.register(sse)
  t.equal(sseOnly.hasReplyDecorator('sse'), true)
  t.equal(sseOnly.hasReplyDecorator('datastar'), false)
  t.equal(sseOnly.hasRequestDecorator('readSignals'), false)
  await sseOnly.close()

  const datastarOnly = Fastify()
  await datastarOnly.register(datastarPlugin)
  t.equal(datastarOnly.hasReplyDecorator('sse'), true)
  t.equal(datastarOnly.hasReplyDecorator('datastar'), true)
  datastarOnly.get('/', (_request, reply) => reply.datastar(async (stream) => { await stream.patchSignals({ alone: true }) }))
  const response = await datastarOnly.inject('/')
  t.equal(response.body, 'event: datastar-patch-signals\ndata: signals {"alone":true}\n\n')
  await datastarOnly.close()
})
