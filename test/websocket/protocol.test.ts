import { test } from 'tap'
import { offeredProtocols, selectProtocol } from '../../src/websocket/protocol.js'

test('offeredProtocols parses the header, repeated or not', async (t) => {
  t.same(offeredProtocols(undefined), [])
  t.same(offeredProtocols('a, b ,c'), ['a', 'b', 'c'])
  t.same(offeredProtocols(['a', 'b, c']), ['a', 'b', 'c'])
  t.same(offeredProtocols(' , '), [])
})

test('selectProtocol follows the server\'s preference, not the client\'s order', async (t) => {
  t.equal(selectProtocol(['v1', 'v2'], ['v2', 'v1']), 'v2')
  t.equal(selectProtocol(['v1'], ['v2', 'v1']), 'v1')
  t.equal(selectProtocol(['mqtt'], ['v2', 'v1']), undefined)
  t.equal(selectProtocol(['v1'], []), undefined, 'a resource without subprotocols selects none')
})
