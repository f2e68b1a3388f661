import t from 'tap'
import { attributeEntries, escapeHtml, escapeScript, renderAttributes } from '../../src/datastar/html.js'

t.test('escapeHtml', async (t) => {
  t.equal(escapeHtml('a "b" <c>'), 'a &quot;b&quot; &lt;c&gt;')
  t.equal(escapeHtml('&'), '&amp;')
  t.equal(escapeHtml('&amp;'), '&amp;amp;', 'ampersands are always escaped, so text is never read as an entity')
  t.equal(escapeHtml("it's"), 'it&#39;s')
  t.equal(escapeHtml('<script>alert("x")</script>'), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;')
  t.equal(escapeHtml('plain text, ünïcødé ✓'), 'plain text, ünïcødé ✓', 'other characters are left alone')
  t.equal(escapeHtml(''), '')
  t.equal(escapeHtml('&&<<>>""\'\''), '&amp;&amp;&lt;&lt;&gt;&gt;&quot;&quot;&#39;&#39;', 'every occurrence')
})

t.test('escapeScript', async (t) => {
  t.equal(escapeScript('"</script>"'), '"<\\/script>"')
  t.equal(escapeScript('</SCRIPT>'), '<\\/SCRIPT>', 'case-insensitive, case kept')
  t.equal(escapeScript('</ScRiPt x>'), '<\\/ScRiPt x>')
  t.equal(escapeScript('<!-- x -->'), '<\\!-- x -->')
  t.equal(escapeScript('a</script>b</script>c<!--d<!--'), 'a<\\/script>b<\\/script>c<\\!--d<\\!--', 'every occurrence')
  t.equal(escapeScript('if (a < b && c > d) x = "</div>"'), 'if (a < b && c > d) x = "</div>"', 'other tags and comparisons are left alone')
  t.equal(escapeScript(''), '')
  t.notMatch(escapeScript('x</script\ty</script/z</script>'), /<\/script/i, 'no closing tag is left')

  // The escapes mean the same in JavaScript strings, so the script still works.
  const source = 'const s = "</script><!--"; const u = `</SCRIPT>`; s + u'
  // eslint-disable-next-line no-new-func
  t.equal(new Function(`${escapeScript(source)}; return s + u`)(), '</script><!--</SCRIPT>')
})

t.test('attributeEntries from an object', async (t) => {
  t.same(attributeEntries({ type: 'module', async: true, defer: false, nonce: null, integrity: undefined, 'data-n': 3 }),
    [['type', 'module'], ['async', true], ['data-n', '3']])
  t.same(attributeEntries({}), [])
  t.same(attributeEntries({ 'data-x': '' }), [['data-x', '']], 'an empty value is kept')
  t.same(attributeEntries({ 'data-v': 'a"b<c>' }), [['data-v', 'a"b<c>']], 'values are not escaped here')
  t.same(attributeEntries({ 'data-on:click__once': 'x', 'aria-label': 'y', 'xml:lang': 'en' }),
    [['data-on:click__once', 'x'], ['aria-label', 'y'], ['xml:lang', 'en']], 'colons and other name characters are allowed')
})

t.test('attributeEntries from strings', async (t) => {
  t.same(attributeEntries(['defer', 'type="module"']), [['defer', true], ['type', 'module']])
  t.same(attributeEntries(["data-a='1'", 'data-b=2', 'data-c=""', 'data-d=', '  async  ']),
    [['data-a', '1'], ['data-b', '2'], ['data-c', ''], ['data-d', ''], ['async', true]])
  t.same(attributeEntries(['data-q=\'say "hi"\'', 'data-r="it\'s"']), [['data-q', 'say "hi"'], ['data-r', "it's"]])
  t.same(attributeEntries([]), [])
})

t.test('attributeEntries refuses invalid names and malformed strings', async (t) => {
  for (const name of ['', 'a b', 'a\tb', 'a"b', "a'b", 'a>b', 'a/b', 'a=b', 'a\nb', 'a\rb', 'a\0b', 'a\x7fb']) {
    t.throws(() => attributeEntries({ [name]: 'v' }), {
      code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT',
      message: /not a valid HTML attribute name/
    }, `key ${JSON.stringify(name)}`)
  }
  for (const entry of ['', 'a b', 'x="1" onload="evil()"', 'x="a', "x='a", 'x="a"b', '><script>', 'x=a b', 'x=<b>', '=v', 'a\nb', 'x=`a`']) {
    t.throws(() => attributeEntries([entry]), {
      code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT',
      message: /is not of the form name or name="value"/
    }, `entry ${JSON.stringify(entry)}`)
  }
  t.throws(() => attributeEntries([42] as unknown as string[]), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'a non-string entry')
})

t.test('renderAttributes', async (t) => {
  t.equal(renderAttributes(undefined), '')
  t.equal(renderAttributes({}), '')
  t.equal(renderAttributes([]), '')
  t.equal(renderAttributes({ type: 'module', async: true }), ' type="module" async')
  t.equal(renderAttributes({ a: false, b: null, c: undefined, d: 0 }), ' d="0"')
  t.equal(renderAttributes({ 'data-v': 'a"b<c>&\'d' }), ' data-v="a&quot;b&lt;c&gt;&amp;&#39;d"', 'values are escaped')
  t.equal(renderAttributes(['defer', "data-a='x\"y'", 'data-b=1']), ' defer data-a="x&quot;y" data-b="1"', 'string values are re-quoted and escaped')
  t.throws(() => renderAttributes({ 'on load': 'x' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
  t.throws(() => renderAttributes(['a b']), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})
