import t from 'tap'
import { SSEParser, type ParsedEvent } from '../../src/sse/parser.js'
import { encodeComment, encodeEvent, splitLines, type SSEMessage } from '../../src/sse/format.js'

function parseChunks (chunks: readonly string[]): { events: ParsedEvent[], comments: string[] } {
  const parser = new SSEParser()
  const events: ParsedEvent[] = []
  for (const chunk of chunks) events.push(...parser.push(chunk))
  return { events, comments: parser.comments }
}

function parseWhole (text: string): ParsedEvent[] {
  return parseChunks([text]).events
}

const STREAM = [
  ': hello\n',
  'event: first\nid: 1\ndata: a\ndata: b\n\n',
  'data: plain\r\n\r\n',
  'event: third\rdata: c\rretry: 5000\r\r',
  ':\n',
  'id: 2\r\nevent: fourth\r\ndata:no-space\r\ndata:  two spaces\r\n\r\n',
  'data\n\n'
].join('')

t.test('parses a simple event', async (t) => {
  const events = parseWhole('event: tick\nid: 7\ndata: 1\ndata: 2\n\n')
  t.same(events, [{ event: 'tick', data: '1\n2', id: '7', dataLines: ['1', '2'] }])
  t.notOk('retry' in events[0]!, 'no retry when none was sent')
})

t.test('an event without a type is a message', async (t) => {
  t.same(parseWhole('data: x\n\n'), [{ event: 'message', data: 'x', id: '', dataLines: ['x'] }])
})

t.test('the whole stream parses as expected', async (t) => {
  const { events, comments } = parseChunks([STREAM])
  t.same(events, [
    { event: 'first', data: 'a\nb', id: '1', dataLines: ['a', 'b'] },
    { event: 'message', data: 'plain', id: '1', dataLines: ['plain'] },
    { event: 'third', data: 'c', id: '1', retry: 5000, dataLines: ['c'] },
    { event: 'fourth', data: 'no-space\n two spaces', id: '2', dataLines: ['no-space', ' two spaces'] },
    { event: 'message', data: '', id: '2', dataLines: [''] }
  ])
  t.same(comments, ['hello', ''])
})

t.test('events split across arbitrary chunk boundaries', async (t) => {
  const whole = parseChunks([STREAM])

  const oneByOne = parseChunks([...STREAM])
  t.same(oneByOne.events, whole.events, 'one character at a time')
  t.same(oneByOne.comments, whole.comments, 'comments too')

  for (const size of [2, 3, 5, 7, 11, 13]) {
    const chunks: string[] = []
    for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.slice(i, i + size))
    t.same(parseChunks(chunks).events, whole.events, `chunks of ${size}`)
  }

  for (let cut = 0; cut <= STREAM.length; cut++) {
    const split = parseChunks([STREAM.slice(0, cut), STREAM.slice(cut)])
    if (JSON.stringify(split.events) !== JSON.stringify(whole.events)) {
      t.fail(`split at ${cut} gives other events`, { found: split.events, wanted: whole.events })
      return
    }
  }
  t.pass('the same events wherever the stream is cut in two')
})

t.test('events come out as soon as their blank line arrives', async (t) => {
  const parser = new SSEParser()
  t.same(parser.push('data: a\n'), [])
  t.same(parser.push('\n').map((e) => e.data), ['a'])
  t.same(parser.push('data: b'), [], 'an unterminated line is buffered')
  t.same(parser.push('\n'), [])
  t.same(parser.push('\n').map((e) => e.data), ['b'])
})

t.test('a CRLF split between chunks is one line end', async (t) => {
  const parser = new SSEParser()
  t.same(parser.push('data: x\r'), [])
  t.same(parser.push('\ndata: y\r'), [], 'the LF after a CR does not end the event')
  const events = parser.push('\n\r\n')
  t.same(events.map((e) => e.dataLines), [['x', 'y']])
})

t.test('a CR at the end of a chunk still ends the line when no LF follows', async (t) => {
  const parser = new SSEParser()
  t.same(parser.push('data: x\r'), [])
  t.same(parser.push('\r').map((e) => e.data), ['x'], 'the second CR is the blank line')
})

t.test('empty chunks do not change the result', async (t) => {
  const whole = parseChunks([STREAM])
  const chunks: string[] = []
  for (const char of STREAM) chunks.push(char, '')
  t.same(parseChunks(chunks).events, whole.events, 'each character followed by an empty chunk')
  // A streaming TextDecoder returns '' for a chunk that only holds part of a
  // character, so an empty chunk can fall between the CR and LF of a CRLF.
  t.same(parseChunks(['data: x\r', '', '\ndata: y\r\n\r\n']).events.map((e) => e.data), ['x\ny'],
    'an empty chunk between CR and LF')
})

t.test('CR-only line endings', async (t) => {
  const events = parseWhole('event: a\rdata: 1\rdata: 2\r\revent: b\rdata: 3\r\r')
  t.same(events.map((e) => [e.event, e.data]), [['a', '1\n2'], ['b', '3']])
})

t.test('comments are collected', async (t) => {
  const { events, comments } = parseChunks([':one\n: two\n:  three\n:\ndata: x\n\n'])
  t.same(comments, ['one', 'two', ' three', ''], 'one leading space is removed')
  t.same(events.map((e) => e.data), ['x'], 'comments do not disturb events')
  t.same(parseChunks([encodeComment('keep-alive')]).comments, ['keep-alive'])
})

t.test('the last id persists across events', async (t) => {
  const events = parseWhole('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n')
  t.same(events.map((e) => e.id), ['1', '1', '2', ''], 'an empty id resets it')
})

t.test('an id with NUL is ignored', async (t) => {
  const events = parseWhole('id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n')
  t.same(events.map((e) => e.id), ['1', '1'])
})

t.test('an id set by an event without data persists', async (t) => {
  const events = parseWhole('id: 5\n\ndata: a\n\n')
  t.same(events.map((e) => [e.id, e.data]), [['5', 'a']])
})

t.test('retry parsing', async (t) => {
  const events = parseWhole([
    'retry: 2500\ndata: a\n\n',
    'data: b\n\n',
    'retry: 12x\ndata: c\n\n',
    'retry: -1\ndata: d\n\n',
    'retry: 1.5\ndata: e\n\n',
    'retry:0\ndata: f\n\n'
  ].join(''))
  t.same(events.map((e) => e.retry), [2500, undefined, undefined, undefined, undefined, 0])
  t.notOk('retry' in events[1]!, 'retry belongs to one event only')
})

t.test('an event without data is not dispatched', async (t) => {
  t.same(parseWhole('event: nothing\n\n'), [])
  t.same(parseWhole('event: nothing\nid: 3\nretry: 10\n\n'), [])
  t.same(parseWhole('\n\n\n'), [], 'blank lines alone dispatch nothing')
  const events = parseWhole('event: nothing\n\ndata: x\n\n')
  t.same(events.map((e) => e.event), ['message'], 'the event type does not leak into the next event')
})

t.test('field parsing details', async (t) => {
  const events = parseWhole('data:a:b\nunknown: z\ndata: c\n\ndata\n\n')
  t.same(events.map((e) => e.data), ['a:b\nc', ''])
  t.same(parseWhole('event: e\ndata: x\n'), [], 'an event is dispatched only by its blank line')
})

t.test('round trip: encodeEvent output parses back to the same event', async (t) => {
  const messages: SSEMessage[] = [
    { data: 'x' },
    { data: '' },
    { event: 'tick', id: '7', data: '1\n2' },
    { event: 'mixed', id: 'a-1', data: 'a\r\nb\rc\nd' },
    { event: 'blank-lines', data: '\n\r\n\r' },
    { event: 'spaces', data: '  leading\ntrailing  \n' },
    { event: 'colons', data: 'data: not a field\nid: 99\n: not a comment' },
    { event: 'unicode', id: 'ü', data: 'ünïcødé ✓\u2028line sep' },
    { event: 'array', data: ['one\r\ntwo', '', 'three\r'] },
    { id: 'only-id', retry: 1234, data: 'with retry' }
  ]
  const stream = messages.map(encodeEvent).join('')
  const whole = parseWhole(stream)
  const oneByOne = parseChunks([...stream]).events
  t.equal(whole.length, messages.length, 'one parsed event per message')
  t.same(oneByOne, whole, 'the same when fed one character at a time')

  let lastId = ''
  messages.forEach((message, i) => {
    const parsed = whole[i]!
    if (message.id !== undefined) lastId = message.id
    const entries = typeof message.data === 'string' ? [message.data] : message.data ?? []
    const lines = entries.flatMap(splitLines)
    t.equal(parsed.event, message.event ?? 'message', `event of #${i}`)
    t.equal(parsed.id, lastId, `id of #${i}`)
    t.same(parsed.dataLines, lines, `data lines of #${i}`)
    t.equal(parsed.data, lines.join('\n'), `data of #${i} (line ends normalised to LF)`)
    t.equal(parsed.retry, message.retry, `retry of #${i}`)
  })
})

t.test('a leading byte order mark is ignored, and a retry-only block still applies', async (t) => {
  const parser = new SSEParser()
  t.same(parser.push('\uFEFFdata: first\n\n').map((event) => event.data), ['first'])
  t.same(parser.push('retry: 2500\n\n'), [], 'a block without data dispatches nothing')
  t.equal(parser.retry, 2500, 'but its retry is known at once, as in browsers')
  t.same(parser.push('\uFEFFdata: not a field\n\n'), [], 'a BOM later on is part of the line, as the spec says')
})
