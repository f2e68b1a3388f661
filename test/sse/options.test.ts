import t from 'tap'
import { DEFAULT_KEEP_ALIVE, STREAM_DEFAULTS, resolveStreamSettings, validateStreamSettings } from '../../src/sse/options.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../src/overflow.js'

t.test('with no level set, every stream gets the defaults', async (t) => {
  t.same(resolveStreamSettings([]), { keepAlive: DEFAULT_KEEP_ALIVE, compression: {}, maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES, overflow: 'close' })
  t.same(resolveStreamSettings([undefined, {}, undefined]), STREAM_DEFAULTS)
})

t.test('each level refines the one before it, field by field', async (t) => {
  const plugin = { keepAlive: 10_000, maxBufferedBytes: 4096, compression: { br: { level: 5, window: 20 } } }
  const route = { keepAlive: false as const, compression: { br: { window: 18 } } }
  const stream = { overflow: 'drop-oldest' as const }
  const resolved = resolveStreamSettings([plugin, route, stream])
  t.equal(resolved.keepAlive, false, 'the route turns keep-alive off')
  t.equal(resolved.maxBufferedBytes, 4096, 'the plugin bound holds where nothing later sets one')
  t.equal(resolved.overflow, 'drop-oldest', 'the stream sets its own policy')
  t.same(resolved.compression, { br: { level: 5, window: 18 } }, 'tunings merge per algorithm')
  t.equal(resolveStreamSettings([{ compression: false }, { compression: true }]).compression !== false, true, 'a later level turns compression back on')
  t.equal(resolveStreamSettings([{ compression: {} }, { compression: false }]).compression, false, 'a later level turns it off')
})

t.test('validation keeps the settings alone and names where a mistake is', async (t) => {
  const options = { keepAlive: 5000, compression: true, headers: { 'x-a': '1' }, onConnect: () => {} }
  t.same(validateStreamSettings(options), { keepAlive: 5000, compression: {} })
  t.same(validateStreamSettings(undefined), {})
  t.throws(() => validateStreamSettings({ keepAlive: 0 }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /keepAlive/ })
  t.throws(() => validateStreamSettings({ maxBufferedBytes: 1.5 }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /maxBufferedBytes/ })
  t.throws(() => validateStreamSettings({ overflow: 'drop-newest' as 'close' }, 'config.sse of GET /feed'), {
    code: 'FST_ERR_SSE_INVALID_OPTION',
    statusCode: 500,
    message: /overflow.*\(config\.sse of GET \/feed\)$/
  })
})
