import t from 'tap'
import Fastify from 'fastify'

// The subpath exports, loaded the way users load them (through package.json "exports", from dist/).
t.test('every subpath export loads and registers on its own', async (t) => {
  const umbrella = await import('fastify-datastar')
  const sse = await import('fastify-datastar/sse')
  const datastar = await import('fastify-datastar/datastar')
  const nodelay = await import('fastify-datastar/nodelay')
  const core = await import('fastify-datastar/core')
  const redis = await import('fastify-datastar/redis')
  const registry = await import('fastify-datastar/registry')
  const websocket = await import('fastify-datastar/websocket')
  const websocketClient = await import('fastify-datastar/websocket-client')
  t.equal(typeof websocketClient.WebSocketClient, 'function')
  t.equal(typeof core.ResourceRoute, 'function')
  t.equal(typeof websocket.CloseCode, 'object')
  t.notOk('ResourceRoute' in websocket, 'the websocket subpath names the resource types; the classes are in core')
  t.equal(typeof redis.RedisBackplane, 'function')
  t.equal(typeof registry.Registry, 'function')
  t.equal(typeof core.encodeEvent, 'function')
  t.equal(typeof core.SSEStream, 'function')
  t.equal(typeof umbrella.datastarUrl, 'function')
  for (const [name, plugin, decorator] of [
    ['fastify-datastar', umbrella.default, 'datastar'],
    ['fastify-datastar/sse', sse.default, 'sse'],
    ['fastify-datastar/datastar', datastar.default, 'datastar'],
    ['fastify-datastar/nodelay', nodelay.default, undefined],
    ['fastify-datastar/registry', registry.default, undefined],
    ['fastify-datastar/websocket', websocket.default, undefined]
  ] as const) {
    const app = Fastify()
    await app.register(plugin)
    if (name === 'fastify-datastar/websocket') t.equal(app.hasDecorator('resource'), true, name)
    if (decorator !== undefined) t.equal(app.hasReplyDecorator(decorator), true, name)
    else t.equal(app.hasReplyDecorator('sse'), false, `${name} adds only its hook`)
    await app.close()
  }
})
