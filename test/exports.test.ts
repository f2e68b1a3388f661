import t from 'tap'
import Fastify from 'fastify'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = new URL('../', import.meta.url)
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, string | { types: string, default: string }> }
// Every subpath the package publishes, as users import them.
const subpaths = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => key === '.' ? 'fastify-datastar' : 'fastify-datastar/' + key.slice(2))

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

/** The names a subpath's declarations export (values and types), read by the TypeScript compiler. */
function declaredExports (program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  const symbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
  if (symbol === undefined) throw new Error(`no declarations at ${file}`)
  return checker.getExportsOfModule(symbol).map((exported) => exported.name).sort()
}

// A new export is a semver promise: the lists below change only on purpose
// (`npx tap --snapshot test/exports.test.ts` rewrites them; the diff is the decision).
t.test('the public surface of every subpath', async (t) => {
  const files = subpaths.map((subpath) => {
    const entry = manifest.exports[subpath === 'fastify-datastar' ? '.' : './' + subpath.slice('fastify-datastar/'.length)]
    if (typeof entry !== 'object') throw new Error(`${subpath} has no types entry`)
    return fileURLToPath(new URL(entry.types, root))
  })
  const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true })
  const surface: Record<string, { values: string[], types: string[] }> = {}
  for (const [index, subpath] of subpaths.entries()) {
    const declared = declaredExports(program, files[index] as string)
    const values = Object.keys(await import(subpath)).sort()
    t.same(values.filter((name) => !declared.includes(name)), [], `${subpath}: every runtime export is declared`)
    surface[subpath] = { values, types: declared.filter((name) => !values.includes(name)) }
  }
  // One line per list: a name added or removed shows in the diff of that line.
  const lines = Object.entries(surface).map(([subpath, { values, types }]) => `${subpath}\n  values: ${values.join(', ')}\n  types: ${types.join(', ')}`)
  t.matchSnapshot(lines.join('\n'), 'exports of each subpath')
})

t.test('CommonJS can require every subpath (require(esm), Node >= 20.19)', { skip: (process.features as { require_module?: boolean }).require_module !== true && 'this Node cannot require ES modules' }, async (t) => {
  const require = createRequire(import.meta.url)
  for (const subpath of subpaths) {
    const loaded = require(subpath) as Record<string, unknown>
    // Node marks a required ES module that has a default export with `__esModule`.
    t.same(Object.keys(loaded).filter((name) => name !== '__esModule').sort(), Object.keys(await import(subpath)).sort(), subpath)
  }
})
