import { test } from 'tap'
import { RESOURCE_DEFAULTS, resolveResourceOptions } from '../../src/websocket/options.js'

test('defaults: 1 MiB messages and buffers, 30 s heartbeat, close on overflow, JSON envelope, same-origin', async (t) => {
  t.same(resolveResourceOptions(), RESOURCE_DEFAULTS)
  t.equal(RESOURCE_DEFAULTS.maxPayload, 1024 * 1024)
  t.equal(RESOURCE_DEFAULTS.heartbeat, 30_000)
  t.equal(RESOURCE_DEFAULTS.messageTimeout, 30_000)
  t.equal(RESOURCE_DEFAULTS.origins, 'same-origin')
})

test('a resource\'s options apply over the plugin\'s', async (t) => {
  const plugin = resolveResourceOptions({ heartbeat: false, envelope: 'sse' })
  const resource = resolveResourceOptions({ maxPayload: 10 }, plugin)
  t.equal(resource.heartbeat, false)
  t.equal(resource.envelope, 'sse')
  t.equal(resource.maxPayload, 10)
  t.same(resolveResourceOptions({ origins: ['https://A.test/path'] }).origins, ['https://a.test'], 'origins are normalized')
})

test('bad values are refused with FST_ERR_WS_INVALID_OPTION', async (t) => {
  const bad: Array<Record<string, unknown>> = [
    { maxPayload: 0 }, { maxPayload: 1.5 }, { messageTimeout: 0 }, { messageTimeout: false }, { heartbeat: true }, { maxBufferedBytes: -1 },
    { hardMaxBufferedBytes: 0 }, { stallTimeout: 2.5 }, { overflow: 'grow' }, { envelope: 'xml' }, { invalidMessage: 'ignore' },
    { origins: 'any' }, { origins: ['::'] }, { protocols: 'chat' }, { protocols: ['a b'] }
  ]
  for (const options of bad) t.throws(() => resolveResourceOptions(options), { code: 'FST_ERR_WS_INVALID_OPTION' }, JSON.stringify(options))
})
