import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  consoleErrorEvent,
  consoleLogEvent,
  DEFAULT_RETRY_DURATION,
  dispatchCustomEventEvent,
  executeScriptEvent,
  NAMESPACES,
  PATCH_ELEMENTS_EVENT,
  PATCH_MODES,
  PATCH_SIGNALS_EVENT,
  patchElementsEvent,
  patchSignalsEvent,
  prefetchEvent,
  redirectEvent,
  removalPatch,
  removeElementsByIdEvent,
  removeElementsEvent,
  removeSignalsEvent,
  replaceUrlEvent,
  requireSingleLine,
  validateMode,
  validateNamespace,
  type Namespace,
  type PatchMode
} from '../../src/datastar/events.js'
import { SSEParser, type ParsedEvent } from '../../src/sse/parser.js'

/** Parses text that must hold exactly one event. */
function parseOne (text: string): ParsedEvent & { retry?: number } {
  const events = new SSEParser().push(text)
  if (events.length !== 1) throw new Error(`expected one event, got ${events.length}`)
  return events[0]!
}

/** The Datastar data lines of an event, as [key, value] pairs in order. */
function dataPairs (text: string): Array<[string, string]> {
  return parseOne(text).dataLines.map((line) => {
    const space = line.indexOf(' ')
    return space === -1 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)]
  })
}

/** The value of the `elements` lines joined with LF, as the client rebuilds them. */
function elementsOf (text: string): string {
  return dataPairs(text).filter(([key]) => key === 'elements').map(([, value]) => value).join('\n')
}

/** The script element sent by an executeScript event. */
function scriptOf (text: string): string {
  return elementsOf(text)
}

function count (text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'))?.length ?? 0
}

t.test('constants', async (t) => {
  t.equal(PATCH_ELEMENTS_EVENT, 'datastar-patch-elements')
  t.equal(PATCH_SIGNALS_EVENT, 'datastar-patch-signals')
  t.equal(DEFAULT_RETRY_DURATION, 1000)
  t.same([...PATCH_MODES], ['outer', 'inner', 'replace', 'prepend', 'append', 'before', 'after', 'remove'])
  t.same([...NAMESPACES], ['html', 'svg', 'mathml'])
})

t.test('patchElementsEvent: defaults give the minimal event', async (t) => {
  t.equal(patchElementsEvent('<div id="a">hi</div>'), 'event: datastar-patch-elements\ndata: elements <div id="a">hi</div>\n\n')
})

t.test('patchElementsEvent: multi-line elements are split on every line end', async (t) => {
  const text = patchElementsEvent('<ul>\r\n<li>1</li>\r<li>2</li>\n</ul>')
  t.equal(text, 'event: datastar-patch-elements\n' +
    'data: elements <ul>\ndata: elements <li>1</li>\ndata: elements <li>2</li>\ndata: elements </ul>\n\n')
  t.equal(elementsOf(text), '<ul>\n<li>1</li>\n<li>2</li>\n</ul>')
  t.equal(elementsOf(patchElementsEvent('<p>\n\n</p>')), '<p>\n\n</p>', 'empty lines inside elements are kept')
})

t.test('patchElementsEvent: every option', async (t) => {
  const text = patchElementsEvent('<p>x</p>', {
    selector: '#feed > li',
    mode: 'append',
    namespace: 'svg',
    useViewTransition: true,
    viewTransitionSelector: '#feed',
    eventId: 'ev-1',
    retryDuration: 2500
  })
  t.equal(text, [
    'event: datastar-patch-elements',
    'id: ev-1',
    'retry: 2500',
    'data: selector #feed > li',
    'data: mode append',
    'data: useViewTransition true',
    'data: viewTransitionSelector #feed',
    'data: namespace svg',
    'data: elements <p>x</p>',
    '',
    ''
  ].join('\n'))
  const event = parseOne(text)
  t.equal(event.event, 'datastar-patch-elements')
  t.equal(event.id, 'ev-1')
  t.equal(event.retry, 2500)
})

t.test('patchElementsEvent: every mode', async (t) => {
  for (const mode of PATCH_MODES) {
    const pairs = dataPairs(patchElementsEvent('<p id="p">x</p>', { mode }))
    const modeLines = pairs.filter(([key]) => key === 'mode')
    if (mode === 'outer') {
      t.same(modeLines, [], 'outer is the default and not sent')
    } else {
      t.same(modeLines, [['mode', mode]], `mode ${mode} is sent`)
    }
    t.same(pairs.at(-1), ['elements', '<p id="p">x</p>'], `elements come last (${mode})`)
  }
})

t.test('patchElementsEvent: namespaces', async (t) => {
  t.notMatch(patchElementsEvent('<p>x</p>', { namespace: 'html' }), /namespace/, 'html is the default and not sent')
  t.same(dataPairs(patchElementsEvent('<circle/>', { namespace: 'svg' })), [['namespace', 'svg'], ['elements', '<circle/>']])
  t.same(dataPairs(patchElementsEvent('<mi>x</mi>', { namespace: 'mathml' })), [['namespace', 'mathml'], ['elements', '<mi>x</mi>']])
})

t.test('patchElementsEvent: view transitions', async (t) => {
  t.notMatch(patchElementsEvent('<p>x</p>', { useViewTransition: false }), /useViewTransition/, 'false is the default and not sent')
  t.match(patchElementsEvent('<p>x</p>', { useViewTransition: true }), /\ndata: useViewTransition true\n/)
  t.match(patchElementsEvent('<p>x</p>', { viewTransitionSelector: '.card' }), /\ndata: viewTransitionSelector \.card\n/)
  t.throws(() => patchElementsEvent('<p>x</p>', { viewTransitionSelector: 'a\nb' }), { code: 'FST_ERR_SSE_INVALID_FIELD' })
  t.throws(() => patchElementsEvent('<p>x</p>', { viewTransitionSelector: '' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('patchElementsEvent: eventId and retryDuration', async (t) => {
  const withDefault = patchElementsEvent('<p>x</p>', { retryDuration: 1000 })
  t.notMatch(withDefault, /retry/, 'retry 1000 is the default and not sent')
  t.equal(parseOne(patchElementsEvent('<p>x</p>', { retryDuration: 0 })).retry, 0, 'retry 0 is sent')
  t.equal(parseOne(patchElementsEvent('<p>x</p>', { retryDuration: 999 })).retry, 999)
  t.equal(parseOne(patchElementsEvent('<p>x</p>', { eventId: '42' })).id, '42')
  t.throws(() => patchElementsEvent('<p>x</p>', { eventId: '1\ndata: x' }), { code: 'FST_ERR_SSE_INVALID_FIELD' })
  t.throws(() => patchElementsEvent('<p>x</p>', { retryDuration: -5 }), { code: 'FST_ERR_SSE_INVALID_RETRY' })
  t.throws(() => patchElementsEvent('<p>x</p>', { retryDuration: 1.5 }), { code: 'FST_ERR_SSE_INVALID_RETRY' })
})

t.test('patchElementsEvent: invalid mode and namespace', async (t) => {
  t.throws(() => patchElementsEvent('<p>x</p>', { mode: 'morph' as PatchMode }), {
    code: 'FST_ERR_DATASTAR_INVALID_MODE',
    message: /"morph".*outer, inner, replace, prepend, append, before, after, remove/
  })
  t.throws(() => patchElementsEvent('<p>x</p>', { mode: 'OUTER' as PatchMode }), { code: 'FST_ERR_DATASTAR_INVALID_MODE' }, 'modes are case-sensitive')
  t.throws(() => patchElementsEvent('<p>x</p>', { namespace: 'xml' as Namespace }), {
    code: 'FST_ERR_DATASTAR_INVALID_NAMESPACE',
    message: /"xml".*html, svg, mathml/
  })
  t.throws(() => validateMode('inner\n'), { code: 'FST_ERR_DATASTAR_INVALID_MODE' })
  t.doesNotThrow(() => validateMode(undefined))
  t.doesNotThrow(() => validateNamespace(undefined))
  t.throws(() => validateNamespace(null), { code: 'FST_ERR_DATASTAR_INVALID_NAMESPACE' })
})

t.test('patchElementsEvent: selector must be one line', async (t) => {
  for (const selector of ['#a\nevent: evil', '#a\r', '#a\r\n#b']) {
    let out: string | undefined
    t.throws(() => { out = patchElementsEvent('<p>x</p>', { selector }) }, {
      code: 'FST_ERR_SSE_INVALID_FIELD',
      message: /selector/
    }, JSON.stringify(selector))
    t.equal(out, undefined)
  }
  t.throws(() => patchElementsEvent('<p>x</p>', { selector: '' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('patchElementsEvent: empty elements are refused unless removing by selector', async (t) => {
  for (const elements of ['', '   ', '\n']) {
    t.throws(() => patchElementsEvent(elements), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, JSON.stringify(elements))
    t.throws(() => patchElementsEvent(elements, { mode: 'remove' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'remove without selector')
    t.throws(() => patchElementsEvent(elements, { selector: '#x' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'selector without remove')
  }
  t.throws(() => patchElementsEvent(42 as unknown as string), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.equal(patchElementsEvent('', { mode: 'remove', selector: '#x' }),
    'event: datastar-patch-elements\ndata: selector #x\ndata: mode remove\n\n')
})

t.test('removeElementsEvent', async (t) => {
  t.equal(removeElementsEvent('#toast'), 'event: datastar-patch-elements\ndata: selector #toast\ndata: mode remove\n\n')
  const event = parseOne(removeElementsEvent('.a, .b', { eventId: 'r1', retryDuration: 3000 }))
  t.same(event, { event: 'datastar-patch-elements', id: 'r1', retry: 3000, data: 'selector .a, .b\nmode remove', dataLines: ['selector .a, .b', 'mode remove'] })
  t.throws(() => removeElementsEvent('#a\n#b'), { code: 'FST_ERR_SSE_INVALID_FIELD' })
  t.throws(() => removeElementsEvent(''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.notMatch(removeElementsEvent('#x', { selector: '#other', mode: 'inner' } as never), /other|inner/, 'only event and view-transition options are taken')
})

t.test('a removal takes a patch\'s view-transition options, as the other SDKs do', async (t) => {
  // The official case removeElementsWithAllOptions: a removal with every option.
  const golden = readFileSync(new URL('../fixtures/datastar-sdk/golden/get/removeElementsWithAllOptions/output.txt', import.meta.url), 'utf8')
  t.equal(removeElementsEvent('#target', { eventId: 'event1', retryDuration: 2000, useViewTransition: true }), golden.trimEnd() + '\n\n')
  t.same(dataPairs(removeElementsEvent('#row', { useViewTransition: true, viewTransitionSelector: '#table' })),
    [['selector', '#row'], ['mode', 'remove'], ['useViewTransition', 'true'], ['viewTransitionSelector', '#table']])
  t.same(dataPairs(removeElementsByIdEvent(['a'], { useViewTransition: true, viewTransitionSelector: '#list' })),
    [['mode', 'remove'], ['useViewTransition', 'true'], ['viewTransitionSelector', '#list'], ['elements', '<div id="a"></div>']])
  t.equal(removeElementsEvent('#row', { useViewTransition: false }), removeElementsEvent('#row'), 'false is the default and is not sent')
  t.throws(() => removeElementsEvent('#row', { viewTransitionSelector: '#a\n#b' }), { code: 'FST_ERR_SSE_INVALID_FIELD' })
})

t.test('removeElementsByIdEvent', async (t) => {
  t.equal(removeElementsByIdEvent('a'), 'event: datastar-patch-elements\ndata: mode remove\ndata: elements <div id="a"></div>\n\n')
  t.same(dataPairs(removeElementsByIdEvent(['a', 'b'])), [['mode', 'remove'], ['elements', '<div id="a"></div><div id="b"></div>']])
  t.equal(elementsOf(removeElementsByIdEvent(['x"><script>alert(1)</script>', "it's&"])),
    '<div id="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"></div><div id="it&#39;s&amp;"></div>', 'ids are escaped')
  t.equal(parseOne(removeElementsByIdEvent('a', { eventId: 'z' })).id, 'z')
  t.throws(() => removeElementsByIdEvent([]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => removeElementsByIdEvent(''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => removeElementsByIdEvent(['ok', 'a\nb']), { code: 'FST_ERR_SSE_INVALID_FIELD' })
})

t.test('patchSignalsEvent with an object', async (t) => {
  t.equal(patchSignalsEvent({ count: 1, user: { name: 'Ann' } }),
    'event: datastar-patch-signals\ndata: signals {"count":1,"user":{"name":"Ann"}}\n\n')
  const text = patchSignalsEvent({ text: 'line1\nline2\r\nevent: evil' })
  t.equal(text.split('\n').filter((line) => line.startsWith('data: ')).length, 1, 'newlines inside values stay escaped in JSON')
  const event = parseOne(text)
  t.equal(event.event, 'datastar-patch-signals')
  t.same(JSON.parse(event.data.replace(/^signals /, '')), { text: 'line1\nline2\r\nevent: evil' })
})

t.test('patchSignalsEvent with a raw JSON string spanning lines', async (t) => {
  const json = '{\n  "a": 1,\r\n  "b": [1, 2]\r}'
  const text = patchSignalsEvent(json)
  t.equal(text, 'event: datastar-patch-signals\ndata: signals {\ndata: signals   "a": 1,\ndata: signals   "b": [1, 2]\ndata: signals }\n\n')
  const lines = parseOne(text).dataLines
  t.ok(lines.every((line) => line.startsWith('signals ')))
  t.same(JSON.parse(lines.map((line) => line.slice('signals '.length)).join('\n')), { a: 1, b: [1, 2] })
  t.equal(patchSignalsEvent('{"a":1}'), 'event: datastar-patch-signals\ndata: signals {"a":1}\n\n', 'a string is sent as-is')
  t.throws(() => patchSignalsEvent(''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => patchSignalsEvent(' \n '), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('patchSignalsEvent options', async (t) => {
  t.equal(patchSignalsEvent({ a: 1 }, { onlyIfMissing: true, eventId: 's1', retryDuration: 500 }),
    'event: datastar-patch-signals\nid: s1\nretry: 500\ndata: onlyIfMissing true\ndata: signals {"a":1}\n\n')
  t.notMatch(patchSignalsEvent({ a: 1 }, { onlyIfMissing: false }), /onlyIfMissing/, 'false is the default and not sent')
  t.notMatch(patchSignalsEvent({ a: 1 }, { retryDuration: 1000 }), /retry/)
})

t.test('patchSignalsEvent refuses arrays, null and other non-objects', async (t) => {
  for (const signals of [[1, 2], null, 42, true, undefined]) {
    t.throws(() => patchSignalsEvent(signals as never), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, JSON.stringify(signals) ?? 'undefined')
  }
})

t.test('patchSignalsEvent: values JSON cannot hold give a coded error', async (t) => {
  t.throws(() => patchSignalsEvent({ big: 10n }), {
    code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT',
    message: /signals cannot be serialised to JSON.*BigInt/
  })
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  t.throws(() => patchSignalsEvent(cyclic), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => patchSignalsEvent({ toJSON: () => undefined }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('removalPatch', async (t) => {
  t.equal(JSON.stringify(removalPatch('user.name')), '{"user":{"name":null}}')
  t.equal(JSON.stringify(removalPatch('draft')), '{"draft":null}')
  t.same(JSON.parse(JSON.stringify(removalPatch(['user.name', 'user.email', 'draft', 'a.b.c']))),
    { user: { name: null, email: null }, draft: null, a: { b: { c: null } } }, 'several paths are merged')
  t.same(JSON.parse(JSON.stringify(removalPatch(['user', 'user.name']))), { user: null }, 'parent before child')
  t.same(JSON.parse(JSON.stringify(removalPatch(['user.name', 'user']))), { user: null }, 'child before parent')
  t.same(JSON.parse(JSON.stringify(removalPatch(['a.b.c', 'a.b', 'a.x']))), { a: { b: null, x: null } }, 'a parent deeper down')
  t.same(JSON.parse(JSON.stringify(removalPatch(['a.b.c.d', 'a']))), { a: null }, 'a grandparent')
  t.same(JSON.parse(JSON.stringify(removalPatch(['x', 'x']))), { x: null }, 'duplicates are harmless')
  t.same(removalPatch('a.b'), { a: { b: null } })
})

t.test('removalPatch refuses empty segments and empty lists', async (t) => {
  for (const path of ['', '.', 'a.', '.a', 'a..b']) {
    t.throws(() => removalPatch(path), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, JSON.stringify(path))
    t.throws(() => removalPatch(['ok', path]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, `${JSON.stringify(path)} in a list`)
  }
  t.throws(() => removalPatch([]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => removalPatch([42] as unknown as string[]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'a lone non-string path')
})

t.test('removalPatch refuses a non-string path among others with a coded error', async (t) => {
  // The design requires a coded error for bad input; the sort comparator must
  // not crash on the entry before validation sees it.
  t.throws(() => removalPatch(['a', 42] as unknown as string[]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('removalPatch: __proto__ paths do not pollute Object.prototype', async (t) => {
  const patch = removalPatch(['__proto__.polluted', 'constructor.prototype.polluted2', 'toString'])
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(({} as Record<string, unknown>).polluted2, undefined)
  t.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  t.equal(JSON.stringify(patch), '{"toString":null,"__proto__":{"polluted":null},"constructor":{"prototype":{"polluted2":null}}}',
    'the keys are plain keys of the patch')
  const text = removeSignalsEvent('__proto__.polluted')
  t.equal(text, 'event: datastar-patch-signals\ndata: signals {"__proto__":{"polluted":null}}\n\n')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('removalPatch: __proto__ and constructor below the top do not pollute either', async (t) => {
  const patch = removalPatch(['a.__proto__.polluted3', 'b.constructor.prototype.polluted4'])
  t.equal(({} as Record<string, unknown>).polluted3, undefined)
  t.equal(({} as Record<string, unknown>).polluted4, undefined)
  t.equal(Object.hasOwn(Object.prototype, 'polluted3'), false)
  t.equal(Object.hasOwn(Object.prototype, 'polluted4'), false)
  t.equal(JSON.stringify(patch), '{"a":{"__proto__":{"polluted3":null}},"b":{"constructor":{"prototype":{"polluted4":null}}}}')
})

t.test('removeSignalsEvent', async (t) => {
  t.equal(removeSignalsEvent('user.name'), 'event: datastar-patch-signals\ndata: signals {"user":{"name":null}}\n\n')
  t.equal(removeSignalsEvent(['a', 'b.c'], { eventId: 'x', retryDuration: 2000 }),
    'event: datastar-patch-signals\nid: x\nretry: 2000\ndata: signals {"a":null,"b":{"c":null}}\n\n')
  t.notMatch(removeSignalsEvent('a', { onlyIfMissing: true } as never), /onlyIfMissing/, 'only event options are taken')
  t.throws(() => removeSignalsEvent([]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('executeScriptEvent: exact text with defaults', async (t) => {
  t.equal(executeScriptEvent('console.log(1)'), [
    'event: datastar-patch-elements',
    'data: mode append',
    'data: selector body',
    'data: elements <script data-effect="el.remove()">console.log(1)</script>',
    '',
    ''
  ].join('\n'))
})

t.test('executeScriptEvent: autoRemove', async (t) => {
  t.equal(scriptOf(executeScriptEvent('x()', { autoRemove: true })), '<script data-effect="el.remove()">x()</script>')
  t.equal(scriptOf(executeScriptEvent('x()', { autoRemove: false })), '<script>x()</script>')
})

t.test('executeScriptEvent: attributes as an object', async (t) => {
  const script = scriptOf(executeScriptEvent('x()', {
    attributes: { type: 'module', async: true, defer: false, nonce: null, integrity: undefined, 'data-n': 3 }
  }))
  t.equal(script, '<script type="module" async data-n="3" data-effect="el.remove()">x()</script>')
  t.equal(scriptOf(executeScriptEvent('x()', { autoRemove: false, attributes: { 'data-v': 'a"b<c>&\'d' } })),
    '<script data-v="a&quot;b&lt;c&gt;&amp;&#39;d">x()</script>', 'values are escaped')
})

t.test('executeScriptEvent: attributes as strings', async (t) => {
  t.equal(scriptOf(executeScriptEvent('x()', { autoRemove: false, attributes: ['type="module"', 'defer', "data-a='1'", 'data-b=2'] })),
    '<script type="module" defer data-a="1" data-b="2">x()</script>')
  t.equal(scriptOf(executeScriptEvent('x()', { autoRemove: false, attributes: ["data-q='say \"hi\"'"] })),
    '<script data-q="say &quot;hi&quot;">x()</script>', 'values are escaped')
})

t.test('executeScriptEvent: invalid attribute names are refused', async (t) => {
  const badNames = ['on load', 'a"b', "a'b", 'a>b', 'a/b', 'a=b', '', 'a\nb', 'a\0b']
  for (const name of badNames) {
    t.throws(() => executeScriptEvent('x()', { attributes: { [name]: 'v' } }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, `object key ${JSON.stringify(name)}`)
  }
  for (const entry of ['a b', 'x="1" onload="evil()"', 'x="a', '><script>', 'x=a b', '=v', 'a\nb']) {
    t.throws(() => executeScriptEvent('x()', { attributes: [entry] }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, `string ${JSON.stringify(entry)}`)
  }
})

t.test('executeScriptEvent: content cannot close the script element', async (t) => {
  const dangerous = 'var a = "</script><img src=x onerror=alert(1)>"; var b = "</SCRIPT >"; var c = "</ScRiPt"; var d = "<!-- <script>"'
  const text = executeScriptEvent(dangerous)
  const script = scriptOf(text)
  t.equal(count(text, /<\/script/i), 1, 'the only </script in the event is the closing tag')
  t.ok(script.endsWith('</script>'), 'and it ends the element')
  t.equal(count(text, /<!--/), 0, 'no HTML comment opener')
  t.match(script, /"<\\\/script><img/, 'escaped with a backslash')
  t.match(script, /"<\\\/SCRIPT >"/, 'case is kept')
  t.match(script, /"<\\!-- <script>"/)
  t.throws(() => executeScriptEvent(''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => executeScriptEvent('  \n'), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('executeScriptEvent: multi-line scripts', async (t) => {
  const text = executeScriptEvent('a()\r\nb()\rc()', { autoRemove: false, eventId: 'e', retryDuration: 1 })
  t.equal(text, 'event: datastar-patch-elements\nid: e\nretry: 1\ndata: mode append\ndata: selector body\n' +
    'data: elements <script>a()\ndata: elements b()\ndata: elements c()</script>\n\n')
})

t.test('redirectEvent', async (t) => {
  const script = scriptOf(redirectEvent('/login?next="a"'))
  t.equal(script, '<script data-effect="el.remove()">setTimeout(() => { window.location.href = "/login?next=\\"a\\"" })</script>')
  t.equal(count(scriptOf(redirectEvent('/</script>')), /<\/script/i), 1, 'a URL cannot close the element')
  t.equal(parseOne(redirectEvent('/', { eventId: 'r' })).id, 'r')
})

t.test('consoleLogEvent and consoleErrorEvent', async (t) => {
  t.equal(scriptOf(consoleLogEvent('saved')), '<script data-effect="el.remove()">console.log("saved")</script>')
  t.equal(scriptOf(consoleLogEvent({ a: [1] })), '<script data-effect="el.remove()">console.log({"a":[1]})</script>')
  t.equal(scriptOf(consoleLogEvent(undefined)), '<script data-effect="el.remove()">console.log(null)</script>')
  t.equal(scriptOf(consoleLogEvent('a\nb')), '<script data-effect="el.remove()">console.log("a\\nb")</script>', 'newlines stay escaped')
  t.throws(() => consoleLogEvent(1n), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.equal(scriptOf(consoleErrorEvent(new Error('failed'))), '<script data-effect="el.remove()">console.error("failed")</script>')
  t.equal(scriptOf(consoleErrorEvent('plain')), '<script data-effect="el.remove()">console.error("plain")</script>')
  t.equal(parseOne(consoleErrorEvent('x', { eventId: 'c' })).id, 'c')
})

t.test('dispatchCustomEventEvent', async (t) => {
  t.equal(scriptOf(dispatchCustomEventEvent('cart-updated', { items: 3 })),
    '<script data-effect="el.remove()">document.dispatchEvent(new CustomEvent("cart-updated", ' +
    '{ bubbles: true, cancelable: true, composed: true, detail: {"items":3} }))</script>')
  t.equal(scriptOf(dispatchCustomEventEvent('ping', undefined, { selector: '#cart .x', bubbles: false, cancelable: false, composed: false })),
    '<script data-effect="el.remove()">document.querySelectorAll("#cart .x").forEach((el) => el.dispatchEvent(' +
    'new CustomEvent("ping", { bubbles: false, cancelable: false, composed: false, detail: null })))</script>')
  t.match(scriptOf(dispatchCustomEventEvent('e', null, { bubbles: false })), /bubbles: false, cancelable: true, composed: true/)
  const event = parseOne(dispatchCustomEventEvent('e', 1, { selector: '#a', eventId: 'd', retryDuration: 3 }))
  t.equal(event.id, 'd')
  t.equal(event.retry, 3)
  t.notMatch(event.data, /selector #a/, 'the selector is used in the script, not as the patch target')
  t.throws(() => dispatchCustomEventEvent('a\nb'), { code: 'FST_ERR_SSE_INVALID_FIELD' })
  t.throws(() => dispatchCustomEventEvent(''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => dispatchCustomEventEvent('e', { n: 1n }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})

t.test('replaceUrlEvent', async (t) => {
  t.equal(scriptOf(replaceUrlEvent('/items?page=2')),
    '<script data-effect="el.remove()">window.history.replaceState({}, \'\', "/items?page=2")</script>')
  t.equal(parseOne(replaceUrlEvent('/', { eventId: 'u' })).id, 'u')
})

t.test('prefetchEvent', async (t) => {
  const script = scriptOf(prefetchEvent(['/next', '/help']))
  t.equal(script, '<script type="speculationrules">{"prefetch":[{"source":"list","urls":["/next","/help"]}]}</script>')
  t.notMatch(script, /data-effect/, 'not auto-removed')
  t.equal(scriptOf(prefetchEvent('/one')), '<script type="speculationrules">{"prefetch":[{"source":"list","urls":["/one"]}]}</script>')
  t.equal(parseOne(prefetchEvent('/x', { eventId: 'p' })).id, 'p')
})

t.test('prefetchEvent: rules stay valid JSON whatever the URLs hold', async (t) => {
  // The browser parses speculation rules as JSON, not JavaScript: `<\/` is a
  // valid JSON escape but `<\!` is not.
  const urls = ['/a</script>b', '/c<!--d']
  const script = scriptOf(prefetchEvent(urls))
  t.equal(count(script, /<\/script/i), 1, 'cannot close the element')
  const body = script.replace(/^<script type="speculationrules">/, '').replace(/<\/script>$/, '')
  let rules: unknown
  t.doesNotThrow(() => { rules = JSON.parse(body) }, 'the rules are valid JSON')
  t.same(rules, { prefetch: [{ source: 'list', urls }] })
})

t.test('requireSingleLine', async (t) => {
  t.equal(requireSingleLine('x', 'ok'), 'ok')
  t.throws(() => requireSingleLine('x', ''), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT', message: /x must be a non-empty string/ })
  t.throws(() => requireSingleLine('x', 1), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => requireSingleLine('x', 'a\rb'), { code: 'FST_ERR_SSE_INVALID_FIELD' })
})
