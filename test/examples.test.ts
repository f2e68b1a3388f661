/**
 * Smoke test of the examples: each one is booted with its build…App() on a
 * real port of 127.0.0.1 and answers real requests; the built demo is run the
 * way `npm start` runs it.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { SSEParser, type ParsedEvent } from 'fastify-datastar/core'
import { buildClockApp } from '../examples/clock.js'
import { buildConformanceApp } from '../examples/conformance.js'
import { buildCounterApp } from '../examples/counter.js'
import { buildDemoApp } from '../examples/demo.js'
import { fetchPage } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Server options of apps whose streams the tests abort. When fetch's request
 * is aborted, fetch opens a spare connection and sends nothing on it; Node's
 * server.close() does not count such a socket as idle and waits for fetch to
 * drop it (4 s later). Closing every connection at app.close() avoids the wait.
 */
const streamAppOptions = { forceCloseConnections: true }

/** Listens on a free port of 127.0.0.1, closes the app at teardown, returns the base URL. */
async function start (t: Test, app: FastifyInstance): Promise<string> {
  t.teardown(() => app.close())
  return await app.listen({ host: '127.0.0.1', port: 0 })
}

/** POSTs signals as the Datastar client does (`@post`: JSON body, Datastar-Request header). */
function postSignals (url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'datastar-request': 'true' },
    body: JSON.stringify(body)
  })
}

/** Reads a whole event-stream body and parses its events. */
async function allEvents (response: Response): Promise<ParsedEvent[]> {
  return new SSEParser().push(await response.text())
}

/** Reads an event stream until an event satisfies `match`, then aborts the request. */
async function waitForEvent (response: Response, controller: AbortController, match: (event: ParsedEvent) => boolean): Promise<ParsedEvent> {
  if (response.body === null) throw new Error('the response has no body')
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  const parser = new SSEParser()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) throw new Error('the stream ended before the expected event')
      const found = parser.push(value).find(match)
      if (found !== undefined) return found
    }
  } finally {
    controller.abort()
    await reader.cancel().catch(() => {})
  }
}

function signalsOf (event: ParsedEvent | undefined): unknown {
  if (event === undefined) return undefined
  const line = event.dataLines.find((l) => l.startsWith('signals '))
  return line === undefined ? undefined : JSON.parse(line.slice('signals '.length))
}

test('counter: @post with signals {count: 41} patches count 42', async (t) => {
  const url = await start(t, await buildCounterApp())

  const response = await postSignals(`${url}/counter/increment`, { count: 41 })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  const events = await allEvents(response)
  const patch = events.find((e) => e.event === 'datastar-patch-signals')
  t.ok(patch, 'a datastar-patch-signals event')
  t.same(signalsOf(patch), { count: 42 })

  const down = await allEvents(await postSignals(`${url}/counter/decrement`, { count: 41 }))
  t.same(signalsOf(down.find((e) => e.event === 'datastar-patch-signals')), { count: 40 })
})

test('counter: signals that do not match the schema are a 400', async (t) => {
  const url = await start(t, await buildCounterApp())

  const response = await postSignals(`${url}/counter/increment`, { count: 'x' })
  t.equal(response.status, 400)
  const body = await response.json() as { code?: string, message?: string }
  t.equal(body.code, 'FST_ERR_VALIDATION')
  t.match(body.message, /signals/)

  const missing = await postSignals(`${url}/counter/increment`, {})
  t.equal(missing.status, 400)
  t.equal((await missing.json() as { code?: string }).code, 'FST_ERR_VALIDATION')
})

test('counter: its page loads the client and carries the counter', async (t) => {
  const app = await buildCounterApp()
  const url = await start(t, app)
  const html = await fetchPage(t, url, '/', app)
  t.match(html, /<div id="counter" data-signals="\{count: 0\}">/)

  const fragment = await fetch(`${url}/counter`)
  t.match(fragment.headers.get('content-type'), /^text\/html/)
  t.match(await fragment.text(), /data-on:click="@post\('\/counter\/increment'\)"/)
})

test('clock: the stream patches #clock, and its timer stops when the client goes away', async (t) => {
  const url = await start(t, await buildClockApp(streamAppOptions))

  // Watch the clock's timer (the one interval of 1000 ms) being set and cleared.
  const realSetInterval = globalThis.setInterval
  const realClearInterval = globalThis.clearInterval
  const clockTimers = new Set<unknown>()
  let onCleared = (): void => {}
  const cleared = new Promise<void>((resolve) => { onCleared = resolve })
  t.capture(globalThis, 'setInterval', (...args: unknown[]) => {
    const timer: unknown = Reflect.apply(realSetInterval, globalThis, args)
    if (args[1] === 1000) clockTimers.add(timer)
    return timer
  })
  t.capture(globalThis, 'clearInterval', (...args: unknown[]) => {
    if (clockTimers.has(args[0])) onCleared()
    return Reflect.apply(realClearInterval, globalThis, args)
  })

  const page = await (await fetch(`${url}/`)).text()
  t.match(page, /data-init="@get\('\/clock'\)"/)

  const controller = new AbortController()
  const response = await fetch(`${url}/clock`, { signal: controller.signal, headers: { 'datastar-request': 'true' } })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  const event = await waitForEvent(response, controller, (e) => e.event === 'datastar-patch-elements' && e.data.includes('id="clock"'))
  t.match(event.data, /^elements <div id="clock">[^<]+<\/div>$/)

  // The request was aborted: sse.onClose() clears the interval.
  t.equal(clockTimers.size, 1, 'the stream started one timer')
  await cleared
  t.pass('the timer was cleared once the client went away')
})

test('demo: the page at / loads the client and uses the data attributes', async (t) => {
  const app = await buildDemoApp(streamAppOptions)
  const url = await start(t, app)
  const html = await fetchPage(t, url, '/', app)
  t.match(html, /<div [^>]*data-signals="\{count: 0\}"/)
  t.match(html, /<output [^>]*data-text="\$count"/)
  t.match(html, /<button [^>]*data-on:click="@post\('\/counter\/increment'\)"/)
  t.match(html, /<button [^>]*data-on:click="@post\('\/counter\/decrement'\)"/)
  t.match(html, /<div [^>]*data-init="@get\('\/clock'\)"/)
  t.match(html, /<div id="clock">/)

  // The routes the page uses are there.
  const events = await allEvents(await postSignals(`${url}/counter/increment`, { count: 1 }))
  t.same(signalsOf(events.find((e) => e.event === 'datastar-patch-signals')), { count: 2 })
  const conformance = await postSignals(`${url}/test`, { events: [{ type: 'patchSignals', signals: { ok: true } }] })
  t.equal(conformance.status, 200)
  t.same(signalsOf((await allEvents(conformance)).find((e) => e.event === 'datastar-patch-signals')), { ok: true })
  const controller = new AbortController()
  const clock = await fetch(`${url}/clock`, { signal: controller.signal })
  const tick = await waitForEvent(clock, controller, (e) => e.event === 'datastar-patch-elements' && e.data.includes('id="clock"'))
  t.match(tick.data, /<div id="clock">/)
})

test('conformance: /test answers the events it is given', async (t) => {
  const url = await start(t, buildConformanceApp())

  const response = await postSignals(`${url}/test`, {
    events: [
      { type: 'patchElements', elements: '<div id="a">1</div>' },
      { type: 'patchSignals', signals: { n: 1 } }
    ]
  })
  t.equal(response.status, 200)
  const events = await allEvents(response)
  t.same(events.map((e) => e.event), ['datastar-patch-elements', 'datastar-patch-signals'])
  t.same(events[0]?.dataLines, ['elements <div id="a">1</div>'])
  t.same(signalsOf(events[1]), { n: 1 })
})

test('npm start: the built demo listens and serves its page', async (t) => {
  const demo = `${root}dist/examples/demo.js`
  if (!existsSync(demo)) {
    t.fail('dist/examples/demo.js is missing: run `npm run build` first')
    return
  }
  // PORT=0: the demo logs the address it got, so there is no port to race for.
  const child = spawn(process.execPath, [demo], {
    cwd: root,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
    await exited
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })

  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const match = /fastify-datastar demo at (http:\/\/127\.0\.0\.1:\d+)\//.exec(line)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    exited.then((code) => reject(new Error(`the demo exited (code ${code}) before listening: ${stderr}`)))
  })

  const response = await fetch(`${url}/`)
  t.equal(response.status, 200)
  const html = await response.text()
  t.match(html, /<script type="module" src="https:\/\/cdn\.jsdelivr\.net\/gh\/starfederation\/datastar@[^"]+\/bundles\/datastar\.js"><\/script>/)
  t.match(html, /data-on:click="@post\('\/counter\/increment'\)"/)

  child.kill('SIGTERM')
  await exited
  t.equal(child.signalCode, 'SIGTERM', 'the demo stopped')
})
