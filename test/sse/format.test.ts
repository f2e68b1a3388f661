import t from 'tap'
import {
  assertSingleLine,
  encodeComment,
  encodeDataLines,
  encodeEvent,
  encodeEventHead,
  splitLines,
  type SSEMessage
} from '../../src/sse/format.js'
import { SSEParser } from '../../src/sse/parser.js'

const BREAKS = [['CR', '\r'], ['LF', '\n'], ['CRLF', '\r\n']] as const

t.test('splitLines splits on CRLF, CR and LF alike', async (t) => {
  t.same(splitLines('a\r\nb\rc\nd'), ['a', 'b', 'c', 'd'])
  t.same(splitLines('one'), ['one'])
  t.same(splitLines(''), [''], 'an empty string is one empty line')
  t.same(splitLines('a\n\nb'), ['a', '', 'b'], 'empty lines in the middle are kept')
  t.same(splitLines('a\r\r\nb'), ['a', '', 'b'], 'CR then CRLF are two line ends')
  t.same(splitLines('a\n'), ['a', ''], 'a trailing line end gives a last empty line')
})

t.test('assertSingleLine refuses CR and LF', async (t) => {
  t.doesNotThrow(() => assertSingleLine('event', 'ping'))
  t.doesNotThrow(() => assertSingleLine('event', ''))
  for (const [name, eol] of BREAKS) {
    t.throws(() => assertSingleLine('selector', 'a' + eol + 'b'), {
      code: 'FST_ERR_SSE_INVALID_FIELD',
      message: /selector/
    }, name)
  }
})

t.test('encodeEvent writes the fields in order and ends with a blank line', async (t) => {
  t.equal(encodeEvent({ event: 'tick', data: '1\n2', id: '7' }), 'event: tick\nid: 7\ndata: 1\ndata: 2\n\n')
  t.equal(encodeEvent({ event: 'a', id: 'b', retry: 3000, data: 'x' }), 'event: a\nid: b\nretry: 3000\ndata: x\n\n')
  t.equal(encodeEvent({ data: 'hello' }), 'data: hello\n\n')
  t.equal(encodeEvent({ data: '' }), 'data: \n\n', 'empty data is still one data line')
  t.equal(encodeEvent({}), '\n', 'an empty message is just the blank line')
  t.equal(encodeEvent({ event: '' }), 'event: \n\n', 'an empty event is a valid single line')
  t.equal(encodeEvent({ id: '' }), 'id: \n\n', 'an empty id resets the last event id')
})

t.test('encodeEvent splits data on CRLF, CR and LF alike', async (t) => {
  t.equal(encodeEvent({ data: 'a\r\nb\rc\nd' }), 'data: a\ndata: b\ndata: c\ndata: d\n\n')
  t.equal(encodeEvent({ data: 'a\n\nb' }), 'data: a\ndata: \ndata: b\n\n', 'empty lines are sent')
  t.equal(encodeEvent({ data: '\n' }), 'data: \ndata: \n\n')
  // No line of the output may be a field that the data did not ask for.
  const text = encodeEvent({ data: 'x\revent: evil\r\nid: 666\nretry: 1' })
  for (const line of text.split('\n').filter((line) => line !== '')) {
    t.match(line, /^data: /, `only data lines: ${JSON.stringify(line)}`)
  }
  t.notMatch(text, /\r/, 'no CR is written')
})

t.test('encodeEvent sends array data one entry at a time', async (t) => {
  t.equal(encodeEvent({ data: ['a', 'b'] }), 'data: a\ndata: b\n\n')
  t.equal(encodeEvent({ data: ['a\nb', 'c'] }), 'data: a\ndata: b\ndata: c\n\n', 'entries with line breaks are split too')
  t.equal(encodeEvent({ data: ['', 'x'] }), 'data: \ndata: x\n\n', 'empty entries are sent')
  t.equal(encodeEvent({ event: 'e', data: [] }), 'event: e\n\n', 'no entries, no data lines')
})

t.test('encodeEvent refuses CR, LF or CRLF in event and nothing is returned', async (t) => {
  for (const [name, eol] of BREAKS) {
    let out: string | undefined
    t.throws(() => { out = encodeEvent({ event: 'ok' + eol + 'data: injected', data: 'x' }) }, {
      code: 'FST_ERR_SSE_INVALID_FIELD',
      statusCode: 500,
      message: /event/
    }, name)
    t.equal(out, undefined, `nothing returned (${name})`)
    t.throws(() => encodeEventHead('a' + eol), { code: 'FST_ERR_SSE_INVALID_FIELD' }, `head: ${name}`)
  }
})

t.test('encodeEvent refuses CR, LF or CRLF in id and nothing is returned', async (t) => {
  for (const [name, eol] of BREAKS) {
    let out: string | undefined
    t.throws(() => { out = encodeEvent({ id: '1' + eol + 'event: evil', data: 'x' }) }, {
      code: 'FST_ERR_SSE_INVALID_FIELD',
      message: /id/
    }, name)
    t.equal(out, undefined, `nothing returned (${name})`)
    t.throws(() => encodeEventHead(undefined, eol), { code: 'FST_ERR_SSE_INVALID_FIELD' }, `head: ${name}`)
  }
})

t.test('encodeEvent refuses NUL in id', async (t) => {
  let out: string | undefined
  t.throws(() => { out = encodeEvent({ id: 'a\0b', data: 'x' }) }, { code: 'FST_ERR_SSE_INVALID_FIELD', message: /id/ })
  t.equal(out, undefined)
  t.throws(() => encodeEventHead(undefined, '\0'), { code: 'FST_ERR_SSE_INVALID_FIELD' })
  t.equal(encodeEventHead('a\0b'), 'event: a\0b\n', 'NUL is only refused in id')
})

t.test('retry must be a non-negative integer', async (t) => {
  t.equal(encodeEventHead(undefined, undefined, 0), 'retry: 0\n')
  t.equal(encodeEventHead(undefined, undefined, 2500), 'retry: 2500\n')
  t.equal(encodeEventHead(undefined, undefined, Number.MAX_SAFE_INTEGER), `retry: ${Number.MAX_SAFE_INTEGER}\n`)
  for (const retry of [-1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    let out: string | undefined
    t.throws(() => { out = encodeEvent({ retry, data: 'x' }) }, {
      code: 'FST_ERR_SSE_INVALID_RETRY',
      message: new RegExp(String(retry).replace(/[.+]/g, '\\$&'))
    }, `retry ${retry}`)
    t.equal(out, undefined)
  }
  t.throws(() => encodeEvent({ retry: '100' as unknown as number }), { code: 'FST_ERR_SSE_INVALID_RETRY' }, 'a numeric string is not a number')
})

t.test('encodeEventHead writes only the fields given', async (t) => {
  t.equal(encodeEventHead(), '')
  t.equal(encodeEventHead('datastar-patch-signals', 'e1', 2000), 'event: datastar-patch-signals\nid: e1\nretry: 2000\n')
  t.equal(encodeEventHead(undefined, 'e1'), 'id: e1\n')
  t.equal(encodeEventHead('x'), 'event: x\n')
})

t.test('non-string data throws FST_ERR_SSE_INVALID_DATA', async (t) => {
  const bad: unknown[] = [42, true, { a: 1 }, null, Symbol('s'), 10n]
  for (const data of bad) {
    let out: string | undefined
    t.throws(() => { out = encodeEvent({ data } as unknown as SSEMessage) }, {
      code: 'FST_ERR_SSE_INVALID_DATA',
      message: new RegExp(typeof data)
    }, `data of type ${typeof data}`)
    t.equal(out, undefined)
  }
  t.throws(() => encodeEvent({ data: ['ok', 1] } as unknown as SSEMessage), {
    code: 'FST_ERR_SSE_INVALID_DATA',
    message: /number/
  }, 'a non-string array entry')
})

t.test('encodeDataLines prefixes every line', async (t) => {
  t.equal(encodeDataLines('elements ', ''), 'data: elements \n', 'empty content still sends its line, trailing space kept')
  t.equal(encodeDataLines('elements ', '<p>\n</p>'), 'data: elements <p>\ndata: elements </p>\n')
  t.equal(encodeDataLines('signals ', '{\r\n"a":1\r}'), 'data: signals {\ndata: signals "a":1\ndata: signals }\n')
  t.equal(encodeDataLines('elements ', 'a\n\nb'), 'data: elements a\ndata: elements \ndata: elements b\n', 'empty lines are sent')
  t.equal(encodeDataLines('', 'x'), 'data: x\n')
})

t.test('encodeComment', async (t) => {
  t.equal(encodeComment(), ':\n\n')
  t.equal(encodeComment(''), ':\n\n')
  t.equal(encodeComment('keep-alive'), ': keep-alive\n\n')
  t.equal(encodeComment('a\nb'), ': a\n: b\n\n')

  const text = encodeComment('x\ndata: injected\r\nevent: evil\rid: 9\n\nretry: 1')
  const lines = text.split('\n')
  t.equal(lines.pop(), '', 'ends with a line end')
  t.equal(lines.pop(), '', 'and a blank line')
  t.ok(lines.length > 0)
  for (const line of lines) t.match(line, /^:/, `every line is a comment: ${JSON.stringify(line)}`)
  t.notMatch(text, /\r/, 'no CR is written')

  const parser = new SSEParser()
  t.same(parser.push(text), [], 'a client sees no event')
  t.same(parser.comments, ['x', 'data: injected', 'event: evil', 'id: 9', '', 'retry: 1'])
})
