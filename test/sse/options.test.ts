import t from 'tap'
import { DEFAULT_KEEP_ALIVE, STREAM_DEFAULTS, resolveCompression, resolveStreamSettings, streamLimits, validateCompression, validateStreamSettings } from '../../src/sse/options.js'
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_STALL_TIMEOUT } from '../../src/slow-consumer.js'

t.test('with no level set, every stream gets the defaults', async (t) => {
  t.same(resolveStreamSettings([]), { keepAlive: DEFAULT_KEEP_ALIVE, compression: {}, maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES, hardMaxBufferedBytes: undefined, stallTimeout: DEFAULT_STALL_TIMEOUT, overflow: 'close' })
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
  t.throws(() => validateStreamSettings({ hardMaxBufferedBytes: 0 }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /hardMaxBufferedBytes/ })
  t.throws(() => validateStreamSettings({ stallTimeout: -5 }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /stallTimeout/ })
  t.same(validateStreamSettings({ hardMaxBufferedBytes: 8, stallTimeout: 5 }), { hardMaxBufferedBytes: 8, stallTimeout: 5 })
  t.throws(() => validateStreamSettings({ overflow: 'drop-newest' as 'close' }, 'config.sse of GET /feed'), {
    code: 'FST_ERR_SSE_INVALID_OPTION',
    statusCode: 500,
    message: /overflow \(config\.sse of GET \/feed\): expected/
  })
  const error = (() => { try { validateStreamSettings({ keepAlive: -1 }, 'config.sse of GET /feed') } catch (caught) { return caught as Error } })()
  t.match(error?.stack, /^FastifyError: Invalid SSE option keepAlive \(config\.sse of GET \/feed\)/, 'logs that print the stack see where too')
})

t.test('resolveCompression and validateCompression', async (t) => {
  t.same(resolveCompression([undefined, undefined, undefined]), {})
  t.equal(resolveCompression([{ coalesce: 5 }, false, undefined]), false)
  t.same(resolveCompression([false, undefined, { encodings: ['gzip'] }]), { encodings: ['gzip'] })
  t.same(resolveCompression([{ coalesce: 5 }, true, { encodings: ['gzip'] }]), { coalesce: 5, encodings: ['gzip'] })
  t.same(validateCompression(true), {})
  t.equal(validateCompression(false), false)
  t.throws(() => validateCompression('yes'), { code: 'FST_ERR_SSE_INVALID_OPTION' })
  t.throws(() => validateCompression({ gzip: { window: 16 } }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /gzip\.window.*9 to 15/ })
  t.throws(() => validateCompression({ zstd: { level: 0.5 } }), { code: 'FST_ERR_SSE_INVALID_OPTION' })
  t.throws(() => validateCompression({ coalesce: 5000 }), { code: 'FST_ERR_SSE_INVALID_OPTION' })
  t.throws(() => validateCompression({ zstd: { window: 24 } }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /10 to 23/ }, 'browsers refuse zstd windows over 8 MiB')
  t.throws(() => validateCompression({ br: { memLevel: 8 } }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /br has no memLevel/ })
  t.same(resolveCompression([{ br: { level: 4 } }, { br: { window: 20 } }]), { br: { level: 4, window: 20 } }, 'tunings merge per algorithm')
})

t.test('slow-consumer limits: the hard bound defaults to 16 soft bounds and is never below the soft one', async (t) => {
  t.same(streamLimits({}), { maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES, hardMaxBufferedBytes: 16 * DEFAULT_MAX_BUFFERED_BYTES, stallTimeout: DEFAULT_STALL_TIMEOUT, overflow: 'close' })
  t.equal(streamLimits({ maxBufferedBytes: 1024 }).hardMaxBufferedBytes, 16 * 1024, 'derived from the soft bound')
  t.equal(streamLimits({ maxBufferedBytes: 1024, hardMaxBufferedBytes: 10 }).hardMaxBufferedBytes, 1024, 'raised to the soft bound')
  t.throws(() => streamLimits({ stallTimeout: 0 }), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /stallTimeout/ })
})

t.test('streams with the same settings share one frozen limits object', async (t) => {
  const first = streamLimits({ maxBufferedBytes: 4096, stallTimeout: 100 })
  t.equal(streamLimits({ maxBufferedBytes: 4096, stallTimeout: 100 }), first)
  t.not(streamLimits({ maxBufferedBytes: 4096 }), first)
  t.ok(Object.isFrozen(first))
})
