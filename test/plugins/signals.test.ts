import t from 'tap'
import Fastify, { type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import datastar from '../../plugins/index.js'

const datastarHeaders = { 'datastar-request': 'true' }

async function echoApp (options: FastifyServerOptions = {}) {
  const app = Fastify(options)
  await app.register(datastar)
  app.route({
    method: ['GET', 'DELETE', 'POST', 'PUT', 'PATCH', 'QUERY'],
    url: '/echo',
    handler: async (request) => request.readSignals()
  })
  return app
}

t.test('GET reads the datastar query parameter; absent signals are {}', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  const found = await app.inject({ url: '/echo', query: { datastar: '{"count":3,"user":{"name":"ada"}}' } })
  t.same(found.json(), { count: 3, user: { name: 'ada' } })
  const absent = await app.inject({ url: '/echo' })
  t.same(absent.json(), {})
  // What the Datastar client sends: a JSON content type with an empty body.
  const client = await app.inject({ url: '/echo', query: { datastar: '{"a":1}' }, headers: { ...datastarHeaders, 'content-type': 'application/json' } })
  t.equal(client.statusCode, 200)
  t.same(client.json(), { a: 1 })
})

t.test('DELETE reads the query parameter, else the body; an empty JSON body is no error', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  const query = await app.inject({ method: 'DELETE', url: '/echo', query: { datastar: '{"id":7}' }, headers: { ...datastarHeaders, 'content-type': 'application/json' } })
  t.equal(query.statusCode, 200)
  t.same(query.json(), { id: 7 })
  const body = await app.inject({ method: 'DELETE', url: '/echo', payload: { id: 8 } })
  t.same(body.json(), { id: 8 })
  const empty = await app.inject({ method: 'DELETE', url: '/echo', headers: { ...datastarHeaders, 'content-type': 'application/json' } })
  t.equal(empty.statusCode, 200, 'the Datastar client\'s empty JSON body is not a 400')
  t.same(empty.json(), {})
})

t.test('POST, PUT, PATCH and QUERY read the body Fastify parsed', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  for (const method of ['POST', 'PUT', 'PATCH', 'QUERY'] as const) {
    const response = await app.inject({ method, url: '/echo', payload: { method }, headers: datastarHeaders })
    t.equal(response.statusCode, 200, method)
    t.same(response.json(), { method }, method)
  }
  const noBody = await app.inject({ method: 'POST', url: '/echo' })
  t.same(noBody.json(), {}, 'no body, no signals')
})

t.test('bad signals are 400s with a coded error that says what was wrong', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  const invalid = await app.inject({ url: '/echo', query: { datastar: '{"count":' } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON', error: 'Bad Request', message: /^Datastar signals are not valid JSON: / })
  const array = await app.inject({ url: '/echo', query: { datastar: '[1,2]' } })
  t.match(array.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', message: /an array/ })
  const twice = await app.inject({ url: '/echo?datastar=%7B%7D&datastar=%7B%7D' })
  t.match(twice.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_DUPLICATE' })
  const bodyArray = await app.inject({ method: 'POST', url: '/echo', payload: '[1]', headers: { 'content-type': 'application/json' } })
  t.match(bodyArray.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT' })
})

t.test('prototype poisoning is handled as Fastify\'s JSON parser handles it', async (t) => {
  const poisoned = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}'
  const strict = await echoApp()
  t.teardown(() => strict.close())
  const refused = await strict.inject({ url: '/echo', query: { datastar: poisoned } })
  t.match(refused.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' })
  const body = await strict.inject({ method: 'POST', url: '/echo', payload: poisoned, headers: { 'content-type': 'application/json' } })
  t.equal(body.statusCode, 400, 'Fastify\'s own body parser refuses it too')

  const lenient = await echoApp({ onProtoPoisoning: 'remove', onConstructorPoisoning: 'remove' })
  t.teardown(() => lenient.close())
  const removed = await lenient.inject({ url: '/echo', query: { datastar: poisoned } })
  t.equal(removed.statusCode, 200)
  t.same(removed.json(), { ok: 1 })
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

const Counter = Type.Object({ count: Type.Number(), step: Type.Optional(Type.Number({ default: 1 })) })

t.test('schema.signals validates GET and body signals through Fastify\'s validator', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.route({
    method: ['GET', 'POST'],
    url: '/count',
    schema: { signals: Counter },
    handler: async (request) => {
      const signals = request.readSignals()
      return { next: signals.count + (signals.step ?? 0) }
    }
  })
  t.teardown(() => app.close())
  const get = await app.inject({ url: '/count', query: { datastar: '{"count":1}' } })
  t.same(get.json(), { next: 2 }, 'defaults from the schema apply (useDefaults)')
  const post = await app.inject({ method: 'POST', url: '/count', payload: { count: 5, step: 2 } })
  t.same(post.json(), { next: 7 })
  const coerced = await app.inject({ url: '/count', query: { datastar: '{"count":"4"}' } })
  t.same(coerced.json(), { next: 5 }, 'Fastify\'s default coercion applies')
  const invalid = await app.inject({ url: '/count', query: { datastar: '{"count":"many"}' } })
  t.equal(invalid.statusCode, 400)
  t.same(invalid.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'signals/count must be number' })
  const missing = await app.inject({ method: 'POST', url: '/count', payload: {} })
  t.match(missing.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', message: 'signals must have required property \'count\'' })
})

t.test('the app\'s Ajv options apply to signals', async (t) => {
  const app = Fastify({ ajv: { customOptions: { coerceTypes: false } } })
  await app.register(datastar)
  app.get('/count', { schema: { signals: Counter } }, async (request) => request.readSignals())
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/count', query: { datastar: '{"count":"4"}' } })
  t.equal(response.statusCode, 400, 'no coercion when the app turns it off')
})

t.test('attachValidation hands the error to the handler', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.get('/count', { schema: { signals: Counter }, attachValidation: true }, async (request) => {
    return { error: request.validationError?.message, context: request.validationError?.validationContext }
  })
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/count', query: { datastar: '{"count":"many"}' } })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { error: 'signals/count must be number', context: 'signals' })
})

t.test('readSignals(schema) validates and types on demand', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.post('/count', async (request) => {
    const { count } = request.readSignals(Counter)
    return { doubled: count * 2 }
  })
  t.teardown(() => app.close())
  const ok = await app.inject({ method: 'POST', url: '/count', payload: { count: 21 } })
  t.same(ok.json(), { doubled: 42 })
  const bad = await app.inject({ method: 'POST', url: '/count', payload: { count: [] } })
  t.match(bad.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', message: /^signals\/count / })
})

t.test('a schema.signals that is not a schema is refused when the route is added', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  t.throws(() => app.get('/x', { schema: { signals: 'count' } }, async () => 'x'), { code: 'FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION' })
  await app.close()
})

t.test('schema.signals applies wherever the signals are first read', async (t) => {
  const app = Fastify()
  // Registered without awaiting: the route below is added before the plugin's onRoute hook exists.
  app.register(datastar)
  app.get('/early', { schema: { signals: Counter } }, async (request) => request.readSignals())
  let seenInHook: unknown
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/hooked')) seenInHook = request.readSignals()
  })
  app.get('/hooked', { schema: { signals: Counter } }, async (request) => request.readSignals())
  t.teardown(() => app.close())
  const early = await app.inject({ url: '/early', query: { datastar: '{"count":"many"}' } })
  t.equal(early.statusCode, 400, 'validated even without the route hook')
  t.equal(early.json().code, 'FST_ERR_VALIDATION')
  const hooked = await app.inject({ url: '/hooked', query: { datastar: '{"count":"3"}' } })
  t.same(seenInHook, { count: 3, step: 1 }, 'an app-level preHandler already sees validated, coerced signals')
  t.same(hooked.json(), { count: 3, step: 1 })
})

t.test('signals are JSON: a text/plain body (a cross-site form or fetch without preflight) is refused', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  const plain = await app.inject({ method: 'POST', url: '/echo', payload: '{"admin":true}', headers: { 'content-type': 'text/plain;charset=UTF-8' } })
  t.equal(plain.statusCode, 415)
  t.match(plain.json(), { code: 'FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE', error: 'Unsupported Media Type' })
  const json = await app.inject({ method: 'POST', url: '/echo', payload: '{"admin":true}', headers: { 'content-type': 'application/json' } })
  t.same(json.json(), { admin: true }, 'the same text as JSON is read')
})

t.test('one decode: a JSON string body is not signals, and null is a 400 as in the query', async (t) => {
  const app = await echoApp()
  t.teardown(() => app.close())
  const string = await app.inject({ method: 'POST', url: '/echo', payload: JSON.stringify('{"admin":true}'), headers: { 'content-type': 'application/json' } })
  t.equal(string.statusCode, 400)
  t.match(string.json(), { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', message: /string/ })
  const bodyNull = await app.inject({ method: 'POST', url: '/echo', payload: 'null', headers: { 'content-type': 'application/json' } })
  const queryNull = await app.inject({ url: '/echo', query: { datastar: 'null' } })
  t.equal(bodyNull.statusCode, 400)
  t.same(bodyNull.json(), queryNull.json(), 'the same answer either way')
})

t.test('deep signals are refused with a 400 before the validator runs, bounded by maxSignalsDepth', async (t) => {
  // A recursive schema (a shared one, as Fastify resolves them): its validator recurses as deep as the value does.
  const tree = (depth: number): string => '{"child":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1)
  const Tree = { $ref: 'tree#' }
  const app = Fastify()
  app.addSchema({ $id: 'tree', type: 'object', properties: { child: { $ref: 'tree#' } } })
  await app.register(datastar)
  app.post('/tree', { schema: { signals: Tree } }, async () => 'ok')
  app.get('/tree', { schema: { signals: Tree } }, async () => 'ok')
  t.teardown(() => app.close())
  const body = await app.inject({ method: 'POST', url: '/tree', payload: tree(5000), headers: { 'content-type': 'application/json' } })
  t.equal(body.statusCode, 400)
  t.match(body.json(), { code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP' })
  const query = await app.inject({ url: '/tree', query: { datastar: tree(100_000) } })
  t.match(query.json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP' })
  const fine = await app.inject({ method: 'POST', url: '/tree', payload: tree(60), headers: { 'content-type': 'application/json' } })
  t.equal(fine.body, 'ok', 'a tree within the bound is validated and served')

  const shallow = Fastify()
  await shallow.register(datastar, { maxSignalsDepth: 2 })
  shallow.post('/echo', async (request) => request.readSignals())
  t.teardown(() => shallow.close())
  t.equal((await shallow.inject({ method: 'POST', url: '/echo', payload: { a: { b: 1 } } })).statusCode, 200)
  t.match((await shallow.inject({ method: 'POST', url: '/echo', payload: { a: { b: { c: 1 } } } })).json(), { statusCode: 400, code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP', message: /2 levels/ })
  await t.rejects(async () => { await Fastify().register(datastar, { maxSignalsDepth: 0 }) }, { code: 'FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION', message: /maxSignalsDepth/ })
})

t.test('a validator that throws on client input is a 400 with a signals code, not the app\'s 500', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.post('/x', {
    schema: { signals: { type: 'object' } },
    // A custom validator compiler whose validator throws on some input.
    validatorCompiler: () => (data: unknown) => {
      if ((data as { boom?: boolean }).boom === true) throw new Error('cannot check boom')
      return { value: data }
    }
  }, async (request) => request.readSignals())
  t.teardown(() => app.close())
  const thrown = await app.inject({ method: 'POST', url: '/x', payload: { boom: true } })
  t.equal(thrown.statusCode, 400)
  t.match(thrown.json(), { code: 'FST_ERR_DATASTAR_SIGNALS_UNVALIDATED', message: /cannot check boom/ })
  t.same((await app.inject({ method: 'POST', url: '/x', payload: { ok: 1 } })).json(), { ok: 1 })
})
