import t from 'tap'
import { parseSignals, readSignals, SIGNALS_QUERY_PARAMETER } from '../../src/datastar/signals.js'

function parserReason (text: string): string {
  try {
    JSON.parse(text)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error(`${text} is valid JSON`)
}

interface Asserts {
  equal: (found: unknown, wanted: unknown, message: string) => unknown
}

function assertNotPolluted (t: Asserts): void {
  const probe = {} as Record<string, unknown>
  t.equal(probe.x, undefined, 'Object.prototype is not polluted')
  t.equal(Object.hasOwn(Object.prototype, 'x'), false, 'no x on Object.prototype')
}

t.test('the query parameter is named datastar', async (t) => {
  t.equal(SIGNALS_QUERY_PARAMETER, 'datastar')
})

t.test('parseSignals parses a JSON object', async (t) => {
  t.same(parseSignals('{"count":1,"user":{"name":"Ann"},"list":[1,2]}'), { count: 1, user: { name: 'Ann' }, list: [1, 2] })
  t.same(parseSignals(' \n{"a":null}\n '), { a: null })
  t.same(parseSignals('{}'), {})
  t.same(parseSignals('{"constructor":1,"proto":2}'), { constructor: 1, proto: 2 }, 'harmless look-alike keys are kept')
})

t.test('parseSignals: empty text means no signals', async (t) => {
  for (const text of ['', ' ', '\n\t\r ']) {
    const signals = parseSignals(text)
    t.same(signals, {}, JSON.stringify(text))
    t.equal(Object.getPrototypeOf(signals), Object.prototype, 'a plain object')
  }
})

t.test('parseSignals: invalid JSON is a 400 with the reason', async (t) => {
  for (const text of ['{', '{"a":}', "{'a':1}", 'nope', '{"a":1}x', '{"a":1,}']) {
    const reason = parserReason(text)
    t.throws(() => parseSignals(text), {
      code: 'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON',
      statusCode: 400,
      message: `Datastar signals are not valid JSON: ${reason}`
    }, JSON.stringify(text))
  }
})

t.test('parseSignals: JSON that is not an object is a 400', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['[1,2]', /an array/],
    ['[]', /an array/],
    ['42', /number/],
    ['null', /null/],
    ['"text"', /string/],
    ['true', /boolean/]
  ]
  for (const [text, kind] of cases) {
    t.throws(() => parseSignals(text), {
      code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT',
      statusCode: 400,
      message: kind
    }, text)
  }
})

t.test('parseSignals: __proto__ is refused by default', async (t) => {
  for (const text of ['{"__proto__":{"x":1}}', '{"a":{"b":{"__proto__":{"x":1}}}}', '{"list":[{"__proto__":{"x":1}}]}']) {
    t.throws(() => parseSignals(text), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 }, text)
    t.throws(() => parseSignals(text, { protoAction: 'error' }), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' })
  }
  assertNotPolluted(t)
})

t.test('parseSignals: constructor.prototype is refused by default', async (t) => {
  for (const text of ['{"constructor":{"prototype":{"x":1}}}', '{"a":{"constructor":{"prototype":{"x":1}}}}']) {
    t.throws(() => parseSignals(text), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 }, text)
    t.throws(() => parseSignals(text, { protoAction: 'remove' }), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' },
      'protoAction does not govern constructor')
  }
  assertNotPolluted(t)
})

t.test('parseSignals: poisoned keys written with JSON escapes are refused too', async (t) => {
  // JSON.parse turns "\u005f_proto__" into an own "__proto__" key, exactly as
  // the plain spelling; Fastify's body parser (secure-json-parse) refuses both.
  const proto = '{"\\u005f_proto__":{"x":1}}'
  const ctor = '{"\\u0063onstructor":{"prototype":{"x":1}}}'
  t.ok(Object.hasOwn(JSON.parse(proto), '__proto__'), 'the escaped spelling really is __proto__')
  t.throws(() => parseSignals(proto), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 }, '__proto__')
  t.throws(() => parseSignals(ctor), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 }, 'constructor')
  t.throws(() => readSignals({ method: 'GET', query: { datastar: proto }, body: undefined }),
    { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' }, 'through readSignals')
})

t.test('parseSignals: action remove drops the poisoned keys', async (t) => {
  const proto = parseSignals('{"a":1,"__proto__":{"x":1}}', { protoAction: 'remove' })
  t.same(proto, { a: 1 })
  t.equal(Object.hasOwn(proto, '__proto__'), false)
  t.equal((proto as Record<string, unknown>).x, undefined)

  const ctor = parseSignals('{"a":1,"constructor":{"prototype":{"x":1}}}', { constructorAction: 'remove' })
  t.equal(Object.hasOwn(ctor, 'constructor'), false)
  t.same(Object.keys(ctor), ['a'])
  assertNotPolluted(t)
})

t.test('parseSignals: action ignore keeps them as plain own keys', async (t) => {
  const proto = parseSignals('{"__proto__":{"x":1}}', { protoAction: 'ignore' })
  t.ok(Object.hasOwn(proto, '__proto__'), 'kept as an own key')
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'the prototype is not replaced')
  t.equal((proto as Record<string, unknown>).x, undefined, 'x is not inherited')
  t.equal(JSON.stringify(proto), '{"__proto__":{"x":1}}')

  const ctor = parseSignals('{"constructor":{"prototype":{"x":1}}}', { constructorAction: 'ignore' })
  t.same(JSON.parse(JSON.stringify(ctor)), { constructor: { prototype: { x: 1 } } })
  t.ok(Object.hasOwn(ctor, 'constructor'))
  assertNotPolluted(t)
})

t.test('readSignals: GET and HEAD read the datastar query parameter', async (t) => {
  for (const method of ['GET', 'HEAD']) {
    t.same(readSignals({ method, query: { datastar: '{"a":1}' }, body: '{"b":2}' }), { a: 1 }, `${method}: the body is ignored`)
    t.same(readSignals({ method, query: { other: 'x' }, body: '{"b":2}' }), {}, `${method}: no parameter, no signals`)
    t.same(readSignals({ method, query: {}, body: undefined }), {})
    t.same(readSignals({ method, query: undefined, body: undefined }), {}, `${method}: no query at all`)
    t.same(readSignals({ method, query: null, body: undefined }), {})
    t.same(readSignals({ method, query: { datastar: '' }, body: undefined }), {}, `${method}: an empty parameter`)
    t.throws(() => readSignals({ method, query: { datastar: '{' }, body: undefined }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON', statusCode: 400 })
    t.throws(() => readSignals({ method, query: { datastar: '[1]' }, body: undefined }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', statusCode: 400 })
    t.throws(() => readSignals({ method, query: { datastar: '{"__proto__":{"x":1}}' }, body: undefined }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 })
  }
  t.same(readSignals({ method: 'GET', query: { datastar: '{"a":1,"__proto__":{"x":1}}' }, body: undefined }, { protoAction: 'remove' }),
    { a: 1 }, 'options are passed on')
  assertNotPolluted(t)
})

t.test('readSignals: duplicate datastar query values are a 400', async (t) => {
  for (const method of ['GET', 'HEAD', 'DELETE']) {
    t.throws(() => readSignals({ method, query: { datastar: ['{"a":1}', '{"a":2}'] }, body: '{"b":1}' }), {
      code: 'FST_ERR_DATASTAR_SIGNALS_DUPLICATE',
      statusCode: 400,
      message: /given once, got 2/
    }, method)
  }
})

t.test('readSignals: DELETE reads the query, else the body', async (t) => {
  t.same(readSignals({ method: 'DELETE', query: { datastar: '{"q":1}' }, body: '{"b":1}' }), { q: 1 }, 'the query wins')
  t.same(readSignals({ method: 'DELETE', query: {}, body: '{"b":1}' }), { b: 1 }, 'a string body')
  t.same(readSignals({ method: 'DELETE', query: {}, body: { b: 2 } }), { b: 2 }, 'a parsed body')
  t.same(readSignals({ method: 'DELETE', query: {}, body: Buffer.from('{"b":3}') }), { b: 3 }, 'a Buffer body')
  t.same(readSignals({ method: 'DELETE', query: {}, body: undefined }), {}, 'neither')
  t.throws(() => readSignals({ method: 'DELETE', query: {}, body: '{"__proto__":{"x":1}}' }), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' })
})

t.test('readSignals: POST, PUT, PATCH and QUERY read the body', async (t) => {
  for (const method of ['POST', 'PUT', 'PATCH', 'QUERY']) {
    const parsed = { a: 1, nested: { b: [1, 2] } }
    t.equal(readSignals({ method, query: {}, body: parsed }), parsed, `${method}: a parsed object is used as it is`)
    t.same(readSignals({ method, query: {}, body: '{"s":"x"}' }), { s: 'x' }, `${method}: a string`)
    t.same(readSignals({ method, query: {}, body: Buffer.from('{"u":"ü"}') }), { u: 'ü' }, `${method}: a Buffer, read as UTF-8`)
    t.same(readSignals({ method, query: {}, body: undefined }), {}, `${method}: no body`)
    t.throws(() => readSignals({ method, query: {}, body: null }), { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', statusCode: 400, message: /null/ }, `${method}: a null body is not signals, as ?datastar=null is not`)
    t.same(readSignals({ method, query: {}, body: '' }), {}, `${method}: empty body`)
    t.same(readSignals({ method, query: { datastar: '{"q":1}' }, body: undefined }), {}, `${method}: the query is ignored`)
    t.same(readSignals({ method, query: { datastar: ['a', 'b'] }, body: '{"b":1}' }), { b: 1 }, `${method}: duplicates in the query do not matter`)
    t.throws(() => readSignals({ method, query: {}, body: [1, 2] }), { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', statusCode: 400, message: /an array/ })
    t.throws(() => readSignals({ method, query: {}, body: 42 }), { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', statusCode: 400, message: /number/ })
    t.throws(() => readSignals({ method, query: {}, body: '{"a":' }), { code: 'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON', statusCode: 400 })
    t.throws(() => readSignals({ method, query: {}, body: Buffer.from('nope') }), { code: 'FST_ERR_DATASTAR_SIGNALS_INVALID_JSON' })
    t.throws(() => readSignals({ method, query: {}, body: '{"__proto__":{"x":1}}' }), { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY', statusCode: 400 })
    t.throws(() => readSignals({ method, query: {}, body: Buffer.from('{"constructor":{"prototype":{"x":1}}}') }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY' })
    t.same(readSignals({ method, query: {}, body: '{"a":1,"__proto__":{"x":1}}' }, { protoAction: 'remove' }), { a: 1 }, `${method}: options are passed on`)
  }
  assertNotPolluted(t)
})

t.test('readSignals with a Content-Type: JSON only, decoded once', async (t) => {
  for (const method of ['POST', 'DELETE']) {
    t.throws(() => readSignals({ method, query: {}, body: '{"a":1}', contentType: 'text/plain;charset=UTF-8' }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE', statusCode: 415, message: /text\/plain/ }, `${method}: text/plain is not read`)
    t.throws(() => readSignals({ method, query: {}, body: { a: '1' }, contentType: 'application/x-www-form-urlencoded' }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE' }, `${method}: nor a form`)
    t.same(readSignals({ method, query: {}, body: '', contentType: 'text/plain' }), {}, `${method}: an empty body of any type is no signals`)
    t.same(readSignals({ method, query: {}, body: { a: 1 }, contentType: 'Application/JSON; charset=utf-8' }), { a: 1 })
    t.same(readSignals({ method, query: {}, body: { a: 1 }, contentType: 'application/merge-patch+json' }), { a: 1 }, `${method}: +json types are JSON`)
    t.throws(() => readSignals({ method, query: {}, body: '{"admin":true}', contentType: 'application/json' }),
      { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', message: /string/ }, `${method}: a parsed JSON string is not decoded again`)
    t.throws(() => readSignals({ method, query: {}, body: null, contentType: 'application/json' }), { code: 'FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT', message: /null/ })
    t.same(readSignals({ method, query: {}, body: Buffer.from('{"b":2}'), contentType: 'application/json' }), { b: 2 }, `${method}: raw JSON bytes are parsed`)
  }
  t.same(readSignals({ method: 'GET', query: { datastar: '{"q":1}' }, body: 'x', contentType: 'text/plain' }), { q: 1 }, 'GET reads the query whatever the body')
})

t.test('the nesting of signals is bounded before anything walks them', async (t) => {
  const nested = (depth: number): string => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1)
  t.same(readSignals({ method: 'GET', query: { datastar: nested(64) }, body: undefined }).a !== undefined, true, '64 levels pass by default')
  t.throws(() => readSignals({ method: 'GET', query: { datastar: nested(65) }, body: undefined }),
    { code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP', statusCode: 400, message: /64/ })
  t.throws(() => parseSignals(nested(100_000)), { code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP' }, '100 000 levels: refused, no stack overflow')
  let deepArray: unknown = []
  for (let i = 0; i < 10; i++) deepArray = [deepArray]
  t.throws(() => readSignals({ method: 'POST', query: {}, body: { list: deepArray } }, { maxDepth: 5 }), { code: 'FST_ERR_DATASTAR_SIGNALS_TOO_DEEP', message: /5/ }, 'arrays are levels too, in parsed bodies too')
  t.same(readSignals({ method: 'POST', query: {}, body: { a: { b: 1 } } }, { maxDepth: 2 }), { a: { b: 1 } })
})
