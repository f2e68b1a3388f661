import t from 'tap'
import Fastify from 'fastify'
import datastar, { type DatastarStream, type Encoding } from '../../plugins/index.js'
import { DEFAULT_ENCODINGS } from '../../src/sse/compression.js'
import { listen, ZSTD_SKIP } from '../helpers.js'
import { BROWSER_SKIP, launchChromium } from './helpers.js'

// The page listens to a compressed Datastar stream with EventSource and notes
// when each event arrives (same machine, same clock as the server).
const page = `<!doctype html>
<meta charset="utf-8">
<script>
  window.arrivals = []
  const source = new EventSource('/feed')
  source.addEventListener('datastar-patch-signals', (event) => {
    const signals = JSON.parse(event.data.replace(/^signals /, ''))
    if (signals.i < 0) return
    window.arrivals.push({ i: signals.i, sentAt: signals.sentAt, receivedAt: Date.now() })
    if (signals.i === 19) source.close()
  })
</script>`

const EVENTS = 20
const SPACING_MS = 100
const LATENCY_BOUND_MS = 300

t.test('Chromium receives every compressed event within 300 ms of being sent', { skip: BROWSER_SKIP }, async (t) => {
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  for (const encoding of DEFAULT_ENCODINGS) {
    t.test(encoding, { skip: encoding === 'zstd' ? ZSTD_SKIP : false }, async (t) => {
      const app = Fastify()
      // The server prefers this encoding; Chromium offers gzip, deflate, br, zstd.
      await app.register(datastar, { compression: { encodings: [encoding] } })
      app.get('/', async (_request, reply) => reply.type('text/html').send(page))
      let negotiated: Encoding | 'identity' | undefined
      app.get('/feed', (request, reply) => reply.datastar(async (sse: DatastarStream) => {
        negotiated = sse.encoding
        // A realistic patch: a few KB that changes a little each tick.
        const rows = Array.from({ length: 30 }, (_, row) => ({ row, label: `row ${row} of the live table` }))
        // A first, untimed event: the page's decoder and handlers are warm before the clock starts.
        await sse.patchSignals({ i: -1, sentAt: Date.now(), rows })
        await new Promise((resolve) => setTimeout(resolve, SPACING_MS))
        for (let i = 0; i < EVENTS && !sse.isClosed; i++) {
          await sse.patchSignals({ i, sentAt: Date.now(), rows })
          await new Promise((resolve) => setTimeout(resolve, SPACING_MS))
        }
      }))
      t.teardown(() => app.close())
      const base = await listen(app)
      const tab = await browser.newPage()
      t.teardown(() => tab.close())
      const feedResponse = tab.waitForResponse((response) => response.url().endsWith('/feed'))
      await tab.goto(base + '/')
      const response = await feedResponse
      t.equal(response.headers()['content-encoding'], encoding, 'the browser got the encoding the server prefers')
      await tab.waitForFunction((count) => (globalThis as unknown as { arrivals: unknown[] }).arrivals.length >= count, EVENTS, { timeout: 15_000 })
      const arrivals = await tab.evaluate(() => (globalThis as unknown as { arrivals: Array<{ i: number, sentAt: number, receivedAt: number }> }).arrivals)
      t.equal(negotiated, encoding)
      t.same(arrivals.map((arrival) => arrival.i), Array.from({ length: EVENTS }, (_, i) => i), 'every event, in order')
      const late = arrivals.filter((arrival) => arrival.receivedAt - arrival.sentAt > LATENCY_BOUND_MS)
      t.same(late, [], `every event arrived within ${LATENCY_BOUND_MS} ms of being sent (not buffered)`)
    })
  }
})
