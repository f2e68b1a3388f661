import { test } from 'tap'
import { envelopeMessages } from '../../src/websocket/envelope.js'
import { encodeEvent } from '../../src/sse/format.js'
import { patchElementsEvent } from '../../src/datastar/events.js'

test('json: one message per event with event, id and data as an EventSource sees them', async (t) => {
  const encoded = Buffer.from(encodeEvent({ event: 'a', id: '7', data: ['x', 'y'] }) + encodeEvent({ data: 'plain' }))
  const messages = envelopeMessages(encoded, 'json').map((message) => JSON.parse(String(message)))
  t.same(messages, [{ event: 'a', id: '7', data: 'x\ny' }, { event: 'message', id: '7', data: 'plain' }])
  t.same(envelopeMessages(patchElementsEvent('<p id="p">hi</p>'), 'json').map((message) => JSON.parse(String(message))), [
    { event: 'datastar-patch-elements', data: 'elements <p id="p">hi</p>' }
  ])
})

test('sse: the SSE text as one message', async (t) => {
  const encoded = encodeEvent({ event: 'a', data: 'x' })
  t.same(envelopeMessages(encoded, 'sse').map(String), [encoded])
})

test('the same bytes are converted once, whatever the number of subscribers', async (t) => {
  const encoded = Buffer.from(encodeEvent({ event: 'a', data: 'x' }))
  const first = envelopeMessages(encoded, 'json')
  t.equal(envelopeMessages(encoded, 'json'), first, 'the same Buffers again')
  t.not(envelopeMessages(encoded, 'sse'), first, 'another envelope is another conversion')
  const reused = Buffer.from(encodeEvent({ event: 'a', data: '1' }))
  t.equal(JSON.parse(String(envelopeMessages(reused, 'json')[0])).data, '1')
  reused.write(encodeEvent({ event: 'a', data: '2' }))
  t.equal(JSON.parse(String(envelopeMessages(reused, 'json')[0])).data, '2', 'a Buffer reused with new content is converted again')
})
