import t from 'tap'
import { elementsResponse, scriptResponse, signalsResponse } from '../../src/datastar/one-shot.js'
import type { PatchMode } from '../../src/datastar/events.js'
import { PATCH_MODES } from '../../src/datastar/events.js'

t.test('elementsResponse: defaults', async (t) => {
  t.same(elementsResponse('<p id="x">hi</p>'), {
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: '<p id="x">hi</p>'
  })
  t.same(elementsResponse('<p>\r\na</p>').body, '<p>\r\na</p>', 'the body is sent as it is')
})

t.test('elementsResponse: every option', async (t) => {
  t.same(elementsResponse('<li>1</li>', { selector: '#list', mode: 'append', useViewTransition: true }), {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'datastar-selector': '#list',
      'datastar-mode': 'append',
      'datastar-use-view-transition': 'true'
    },
    body: '<li>1</li>'
  })
})

t.test('elementsResponse: modes', async (t) => {
  for (const mode of PATCH_MODES) {
    const { headers } = elementsResponse('<p id="p">x</p>', { mode })
    if (mode === 'outer') {
      t.notOk('datastar-mode' in headers, 'outer is the default and not sent')
    } else {
      t.equal(headers['datastar-mode'], mode, `mode ${mode}`)
    }
  }
})

t.test('elementsResponse: defaults are not sent', async (t) => {
  const { headers } = elementsResponse('<p>x</p>', { useViewTransition: false })
  t.same(Object.keys(headers), ['content-type'])
})

t.test('elementsResponse: refusals', async (t) => {
  t.throws(() => elementsResponse('<p>x</p>', { mode: 'morph' as PatchMode }), { code: 'FST_ERR_DATASTAR_INVALID_MODE' })
  for (const selector of ['#a\n#b', '#a\r', '#a\r\nx-injected: 1']) {
    t.throws(() => elementsResponse('<p>x</p>', { selector }), { code: 'FST_ERR_SSE_INVALID_FIELD', message: /selector/ }, JSON.stringify(selector))
  }
  t.throws(() => elementsResponse('<p>x</p>', { selector: '' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => elementsResponse(42 as unknown as string), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('signalsResponse', async (t) => {
  t.same(signalsResponse({ count: 2, user: { name: 'Ann' } }), {
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: '{"count":2,"user":{"name":"Ann"}}'
  })
  t.same(signalsResponse('{\n"raw": true\n}'), {
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: '{\n"raw": true\n}'
  }, 'a string is sent as it is')
  t.equal(signalsResponse({ a: 1 }, { onlyIfMissing: true }).headers['datastar-only-if-missing'], 'true')
  t.notOk('datastar-only-if-missing' in signalsResponse({ a: 1 }, { onlyIfMissing: false }).headers, 'false is the default and not sent')
  for (const signals of [[1], null, 42, undefined]) {
    t.throws(() => signalsResponse(signals as never), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, String(signals))
  }
})

t.test('signalsResponse: values JSON cannot hold give a coded error', async (t) => {
  // patchSignalsEvent gives FST_ERR_DATASTAR_INVALID_ARGUMENT for these; the
  // one-shot response must not throw a bare TypeError instead.
  t.throws(() => signalsResponse({ big: 10n }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'BigInt')
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  t.throws(() => signalsResponse(cyclic), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'a cycle')
})

t.test('scriptResponse', async (t) => {
  t.same(scriptResponse('console.log(1)'), {
    headers: { 'content-type': 'text/javascript; charset=utf-8' },
    body: 'console.log(1)'
  })
  t.notOk('datastar-script-attributes' in scriptResponse('x()', {}).headers)
  t.equal(scriptResponse('</script>').body, '</script>', 'no HTML escaping: the body is not inside HTML')
  t.throws(() => scriptResponse(1 as unknown as string), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('scriptResponse: attributes from an object', async (t) => {
  const { headers } = scriptResponse('x()', { attributes: { type: 'module', async: true, defer: false, nonce: null, 'data-n': 3, 'data-q': 'a"b' } })
  t.equal(headers['datastar-script-attributes'], '{"type":"module","async":true,"data-n":"3","data-q":"a\\"b"}')
  t.same(JSON.parse(headers['datastar-script-attributes'] as string), { type: 'module', async: true, 'data-n': '3', 'data-q': 'a"b' })
})

t.test('scriptResponse: attributes from strings', async (t) => {
  const { headers } = scriptResponse('x()', { attributes: ['type="module"', 'defer', "data-a='1'", 'data-b=2'] })
  t.equal(headers['datastar-script-attributes'], '{"type":"module","defer":true,"data-a":"1","data-b":"2"}')
})

t.test('scriptResponse: attribute values cannot break the header', async (t) => {
  const { headers } = scriptResponse('x()', { attributes: { 'data-v': 'a\r\nx-injected: 1' } })
  t.notMatch(headers['datastar-script-attributes'] as string, /[\r\n]/)
  t.same(JSON.parse(headers['datastar-script-attributes'] as string), { 'data-v': 'a\r\nx-injected: 1' })
})

t.test('scriptResponse: invalid attributes are refused', async (t) => {
  t.throws(() => scriptResponse('x()', { attributes: { 'on load': 'x' } }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => scriptResponse('x()', { attributes: ['x="1" y'] }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})
