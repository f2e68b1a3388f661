import t from 'tap'
import Fastify from 'fastify'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { publicSurface, subpaths } from './public-surface.js'

const root = new URL('../', import.meta.url)

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
  t.equal(typeof umbrella.errorCodes.FST_ERR_SSE_OVERFLOW, 'function')
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

// A new export is a semver promise: the lists below change only on purpose
// (`npx tap --snapshot test/exports.test.ts` rewrites them; the diff is the decision).
t.test('the public surface of every subpath', async (t) => {
  const surface = await publicSurface()
  for (const [subpath, { undeclared }] of Object.entries(surface)) t.same(undeclared, [], `${subpath}: every runtime export is declared`)
  // One line per list: a name added or removed shows in the diff of that line.
  const lines = Object.entries(surface).map(([subpath, { values, types }]) => `${subpath}\n  values: ${values.join(', ')}\n  types: ${types.join(', ')}`)
  t.matchSnapshot(lines.join('\n'), 'exports of each subpath')
})

t.test('the root names the WebSocket types without the WebSocket plugin\'s declaration merging', async (t) => {
  // Compiled alone: elsewhere in the suite the plugin's own types are loaded.
  const fixture = fileURLToPath(new URL('test/fixtures/root-types.ts', root))
  const program = ts.createProgram([fixture], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true, types: ['node'] })
  const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
  t.same(problems, [], 'app.resource() is unknown and the types resolve')
})

t.test('CommonJS can require every subpath (require(esm), Node >= 20.19)', { skip: (process.features as { require_module?: boolean }).require_module !== true && 'this Node cannot require ES modules' }, async (t) => {
  const require = createRequire(import.meta.url)
  for (const subpath of subpaths) {
    const loaded = require(subpath) as Record<string, unknown>
    // Node marks a required ES module that has a default export with `__esModule`.
    t.same(Object.keys(loaded).filter((name) => name !== '__esModule').sort(), Object.keys(await import(subpath)).sort(), subpath)
  }
})
