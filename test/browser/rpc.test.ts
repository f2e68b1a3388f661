/**
 * Browser RPC (`fastify-datastar/rpc`, issue #12) in real Chromium: pages
 * served by the same app import `/rpc/client.js`, connect, answer the
 * server's calls with the generated browser functions and call the server's.
 * A page's connection is cut by a TCP proxy between page and server
 * (Chromium's offline mode leaves open WebSockets running). What a page sees
 * is read with `page.evaluate`; every wait is bounded, nothing is timed.
 *
 * Every scenario runs twice (issue #13): over WebSocket, and with every
 * upgrade refused (403, as a proxy that blocks WebSockets), where the page's
 * client falls back by itself to the SSE stream and POSTs.
 */
import { once } from 'node:events'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { WebSocket } from 'ws'
import rpc, { RpcErrorCode, type RpcPluginOptions, type Session } from '../../plugins/rpc.js'
import { gate, listen, openStream, waitFor, within } from '../helpers.js'
import { startProxy } from '../registry/tcp-proxy.js'
import { BROWSER_SKIP, launchChromium } from './helpers.js'

/** The bound of every wait (a failure message, never a measurement). */
const LIMIT = 10_000
/** A call's timeout or a TTL the test must never reach: an answer within LIMIT did not wait for it. */
const NEVER = 60_000

const POLICY = "script-src 'self'; require-trusted-types-for 'script'"

/** An outcome of a call the page made, as the page saw it. */
interface CallOutcome {
  value?: unknown
  error?: { name: string, code: string, message: string, rpcError: boolean }
}

/** The transports the suite runs on: `sse` refuses every upgrade. */
type Mode = 'websocket' | 'sse'

/** What page.js keeps on `globalThis.rpcTest`. */
interface PageState {
  client: { session: string | undefined, connected: boolean, transport: string | undefined }
  events: string[]
  welcomes: Array<{ session: string, token: string, resumed: boolean }>
  runs: Record<string, number>
  aborted: string[]
  policy: { eval: string, innerHTML: string }
  wait: (name: string) => Promise<string>
  release: (name: string, value: string) => void
  call: (name: string, args: unknown[], options?: { timeout?: number }) => Promise<CallOutcome>
  calls: Record<string, Promise<CallOutcome>>
}
type PageGlobals = typeof globalThis & { rpcTest: PageState }

// The page's script, a same-origin file (the CSP test allows no inline script).
const PAGE_SCRIPT = `
import { connect, RpcError } from '/rpc/client.js'

const attempt = (run) => { try { run(); return 'ran' } catch (error) { return error.name } }
const gates = new Map()
const gateOf = (name) => {
  let entry = gates.get(name)
  if (entry === undefined) {
    let resolve
    const promise = new Promise((settle) => { resolve = settle })
    entry = { promise, resolve }
    gates.set(name, entry)
  }
  return entry
}
const state = {
  events: [],
  welcomes: [],
  runs: {},
  aborted: [],
  calls: {},
  policy: { eval: attempt(() => eval('1')), innerHTML: attempt(() => { document.body.innerHTML = '<b>x</b>' }) },
  wait: (name) => gateOf(name).promise,
  release: (name, value) => { gateOf(name).resolve(value) }
}
globalThis.rpcTest = state

// The browser's WebSocket, recording the welcome frames: the client keeps its token to itself.
class RecordingWebSocket extends WebSocket {
  constructor (url) {
    super(url)
    this.addEventListener('message', (event) => {
      if (typeof event.data === 'string' && event.data.startsWith('{"t":"welcome"')) state.welcomes.push(JSON.parse(event.data))
    })
  }
}

// The SSE transport's fetch, recording the welcome events of its streams (a copy of the body, read aside).
const recordingFetch = async (url, init) => {
  const response = await fetch(url, init)
  if (!String(url).endsWith('/stream') || !response.ok || response.body === null) return response
  const [mine, theirs] = response.body.tee()
  ;(async () => {
    const reader = theirs.getReader()
    const decoder = new TextDecoder()
    let text = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
      const line = /^data: ([{]"t":"welcome".*)$/m.exec(text)
      if (line !== null) { state.welcomes.push(JSON.parse(line[1])); reader.cancel().catch(() => {}); return }
    }
  })().catch(() => {})
  return new Response(mine, { status: response.status, headers: response.headers })
}

const client = await connect({ WebSocket: RecordingWebSocket, fetch: recordingFetch, reconnect: { initialDelay: 20, maxDelay: 200 } })
state.client = client
client.addEventListener('connected', () => { state.events.push('connected') })
client.addEventListener('disconnected', () => { state.events.push('disconnected') })
state.call = async (name, args, options) => {
  try {
    return { value: await client.call(name, args, options) }
  } catch (error) {
    return { error: { name: error.name, code: error.code, message: error.message, rpcError: error instanceof RpcError } }
  }
}
document.documentElement.dataset.session = client.session
`

/** The browser functions every app declares (bodies run in the page; they use only the page's globals). */
function declareBrowserFunctions (app: FastifyInstance) {
  return {
    add: app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b),
    fail: app.rpc.browserFunction('fail', { params: Type.Tuple([Type.String()]), result: Type.Null() }, (message) => { throw new Error(message) }),
    hang: app.rpc.browserFunction('hang', { params: Type.Tuple([]), result: Type.Null() }, ({ signal }) => new Promise<null>(() => {
      signal.addEventListener('abort', () => { (globalThis as PageGlobals).rpcTest.aborted.push((signal.reason as { code: string }).code) })
    })),
    wrong: app.rpc.browserFunction('wrong', { params: Type.Tuple([]), result: Type.Number() }, () => 'three' as unknown as number),
    stringly: app.rpc.browserFunction('stringly', { params: Type.Tuple([]), result: Type.Boolean() }, () => 'false' as unknown as boolean),
    // Counts its runs in the page and answers once the test releases it.
    held: app.rpc.browserFunction('held', { params: Type.Tuple([Type.String()]), result: Type.String() }, async (name) => {
      const state = (globalThis as PageGlobals).rpcTest
      state.runs[name] = (state.runs[name] ?? 0) + 1
      return await state.wait(name)
    })
  }
}

interface AppOptions {
  mode: Mode
  rpc?: RpcPluginOptions
  csp?: boolean
  declare?: (app: FastifyInstance) => void
}

/** An app serving the page, its script and the RPC plugin on loopback, closed at teardown. */
async function rpcApp (t: Test, options: AppOptions) {
  const app = Fastify()
  t.teardown(() => app.close())
  if (options.csp === true) app.addHook('onSend', async (_request, reply) => { reply.header('content-security-policy', POLICY) })
  await app.register(rpc, { prefix: '/rpc', ...options.rpc })
  // A network that blocks WebSockets: every upgrade is refused before the 101 (after the plugin's own hook has seen it).
  if (options.mode === 'sse') {
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.upgrade?.toLowerCase() === 'websocket') await reply.code(403).send()
    })
  }
  const functions = declareBrowserFunctions(app)
  app.rpc.serverFunction('greet', { params: Type.Tuple([Type.String({ maxLength: 10 })]), result: Type.String() }, async (_session, name) => `hello ${name}`)
  options.declare?.(app)
  app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>rpc</title><script type="module" src="/page.js"></script>'))
  app.get('/page.js', async (_request, reply) => reply.type('text/javascript').send(PAGE_SCRIPT))
  const base = await listen(app)
  return { app, base, port: Number(new URL(base).port), functions }
}

let browser: Browser | undefined
t.before(async () => { if (BROWSER_SKIP === false) browser = await launchChromium() })
t.teardown(async () => { await browser?.close() })

/** A browser context (its own cookies), closed at teardown. */
async function newContext (t: Test): Promise<BrowserContext> {
  const context = await (browser as Browser).newContext()
  t.teardown(() => context.close())
  return context
}

interface RpcPage {
  page: Page
  /** The session id the page got from `connect()`. */
  session: string
  errors: string[]
}

/** Opens `url` in a new page of `context`; resolves once the page's session is established over `mode`'s transport. */
async function openPage (context: BrowserContext, url: string, mode: Mode): Promise<RpcPage> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => { errors.push(error.message) })
  await page.goto(url)
  await page.locator('html[data-session]').waitFor({ state: 'attached', timeout: LIMIT })
  const { transport } = await snapshot(page)
  if (transport !== mode) throw new Error(`the page connected over ${String(transport)}, not ${mode}`)
  return { page, session: (await page.getAttribute('html', 'data-session')) as string, errors }
}

/** What the page has seen so far. */
async function snapshot (page: Page) {
  return await page.evaluate(() => {
    const state = (globalThis as PageGlobals).rpcTest
    return { session: state.client.session, connected: state.client.connected, transport: state.client.transport, events: state.events, welcomes: state.welcomes, runs: state.runs, aborted: state.aborted, policy: state.policy }
  })
}
type Snapshot = Awaited<ReturnType<typeof snapshot>>

/** Polls the page until `done` holds of what it has seen (bounded). */
async function until (page: Page, done: (seen: Snapshot) => boolean, what: string): Promise<Snapshot> {
  const start = Date.now()
  for (;;) {
    const seen = await snapshot(page)
    if (done(seen)) return seen
    if (Date.now() - start > LIMIT) throw new Error(`timed out waiting for ${what}; the page saw ${JSON.stringify(seen)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Calls a server function from the page and waits for its outcome there. */
async function callFromPage (page: Page, name: string, args: unknown[]): Promise<CallOutcome> {
  return await within(page.evaluate(([name, args]) => (globalThis as PageGlobals).rpcTest.call(name, args), [name, args] as const), LIMIT, `the page's call to ${name}`)
}

/** Starts a call from the page without waiting for it; `outcome(page, key)` waits for it. */
async function startCallFromPage (page: Page, key: string, name: string, args: unknown[]): Promise<void> {
  await page.evaluate(([key, name, args, timeout]) => {
    const state = (globalThis as PageGlobals).rpcTest
    state.calls[key] = state.call(name, args, { timeout })
  }, [key, name, args, NEVER] as const)
}

async function outcome (page: Page, key: string): Promise<CallOutcome> {
  return await within(page.evaluate((key) => (globalThis as PageGlobals).rpcTest.calls[key] as Promise<CallOutcome>, key), LIMIT, `the page's call ${key}`)
}

async function release (page: Page, name: string, value: string): Promise<void> {
  await page.evaluate(([name, value]) => { (globalThis as PageGlobals).rpcTest.release(name, value) }, [name, value] as const)
}

const byId = (a: unknown[], b: unknown[]): number => String(a[0]) < String(b[0]) ? -1 : 1

for (const mode of ['websocket', 'sse'] as const) {
  t.test(`OMG's example: add(1, 2) answers 3 in each of three pages, each entry naming its page's session (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const { app, base, functions } = await rpcApp(t, { mode })
    const context = await newContext(t)
    const pages = await Promise.all([0, 1, 2].map(() => openPage(context, base, mode)))
    t.equal(new Set(pages.map(({ session }) => session)).size, 3, 'three sessions')
    const entries = await within(app.rpc.callAll(functions.add, [1, 2]), LIMIT, 'callAll')
    t.same(
      entries.map((entry) => [entry.session.id, entry.status, entry.value]).sort(byId),
      pages.map(({ session }) => [session, 'ok', 3]).sort(byId)
    )
    t.same(pages.flatMap(({ errors }) => errors), [], 'no page error')
  })

  t.test(`a throwing function, a timeout, an invalid result and a coerced one: each its entry's status, never a rejection (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const { app, base, functions } = await rpcApp(t, { mode })
    const { page, session } = await openPage(await newContext(t), base, mode)

    const [failed] = await within(app.rpc.callAll(functions.fail, ['no luck in the page']), LIMIT, 'callAll(fail)')
    t.match(failed, { status: 'error', error: { code: RpcErrorCode.REMOTE, message: 'no luck in the page' } })
    t.equal(failed?.session.id, session)
    // The page's stack stays in the page: the error was made on the server from a code and a message.
    t.notOk(failed?.error?.stack?.includes(base), 'no stack from the page')
    t.notOk(failed?.error?.stack?.includes('functions.'), 'no frame of the browser module')

    const [timedOut] = await within(app.rpc.callAll(functions.hang, [], { timeout: 200 }), LIMIT, 'callAll(hang)')
    t.match(timedOut, { status: 'timeout', error: { code: RpcErrorCode.TIMEOUT } })
    const seen = await until(page, ({ aborted }) => aborted.length === 1, 'the page\'s function sees its signal abort')
    t.same(seen.aborted, [RpcErrorCode.TIMEOUT])

    const [invalid] = await within(app.rpc.callAll(functions.wrong, []), LIMIT, 'callAll(wrong)')
    t.match(invalid, { status: 'invalid', error: { code: RpcErrorCode.INVALID_RESULT, message: /result of wrong/ } })
    t.equal(invalid?.value, undefined, 'no value')

    // The app's Ajv coerces a result it accepts, as it does a body: the server gets the declared type.
    const [coerced] = await within(app.rpc.callAll(functions.stringly, []), LIMIT, 'callAll(stringly)')
    t.match(coerced, { status: 'ok' })
    t.equal(coerced?.value, false, 'the boolean false, not the truthy string "false"')
  })

  t.test(`a tab closed during callAll is reported disconnected at once; the others answer (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const expired: string[] = []
    const { app, base, functions } = await rpcApp(t, { mode, rpc: { sessionTtl: NEVER, onExpire: (session) => { expired.push(session.id) } } })
    const context = await newContext(t)
    const [first, second, closing] = await Promise.all([0, 1, 2].map(() => openPage(context, base, mode))) as [RpcPage, RpcPage, RpcPage]
    const entries = app.rpc.callAll(functions.held, ['closing'], { timeout: NEVER })
    for (const { page } of [first, second, closing]) await until(page, ({ runs }) => runs.closing === 1, 'the call runs in each page')
    await closing.page.close()
    await waitFor(() => expired.includes(closing.session), 'the closed tab\'s session ends', LIMIT)
    for (const { page } of [first, second]) await release(page, 'closing', 'answered')
    // Within LIMIT, well before the TTL or the call's timeout: the close itself ended the session.
    const settled = await within(entries, LIMIT, 'callAll with a closed tab')
    t.same(settled.map((entry) => [entry.session.id, entry.status, entry.value ?? entry.error?.code]).sort(byId), [
      [first.session, 'ok', 'answered'],
      [second.session, 'ok', 'answered'],
      [closing.session, 'disconnected', RpcErrorCode.DISCONNECTED]
    ].sort(byId))
    t.equal(app.rpc.session(closing.session), undefined, 'the session is gone')
  })

  t.test(`a reload ends the page's session at once (its call disconnected) and the new page boots its own (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const hooks: string[] = []
    const { app, base, functions } = await rpcApp(t, {
      mode,
      rpc: { sessionTtl: NEVER, onBoot: (session) => { hooks.push(`boot ${session.id}`) }, onExpire: (session) => { hooks.push(`expire ${session.id}`) } }
    })
    const { page, session: id } = await openPage(await newContext(t), base, mode)
    const pending = (app.rpc.session(id) as Session).call(functions.held, ['reload'], { timeout: NEVER })
    pending.catch(() => {})
    await until(page, ({ runs }) => runs.reload === 1, 'the call runs in the page')
    await page.reload()
    await t.rejects(within(pending, LIMIT, 'the call to the reloaded page'), { code: RpcErrorCode.DISCONNECTED })
    await page.locator('html[data-session]').waitFor({ state: 'attached', timeout: LIMIT })
    const next = (await page.getAttribute('html', 'data-session')) as string
    t.not(next, id, 'a new session')
    await waitFor(() => hooks.length === 3, 'the new session boots', LIMIT)
    // The old socket's close and the new one's hello travel on two connections: either may reach the server first.
    t.same([...hooks].sort(), [`boot ${id}`, `expire ${id}`, `boot ${next}`].sort())
    const entries = await within(app.rpc.callAll(functions.add, [1, 2]), LIMIT, 'callAll')
    t.same(entries.map((entry) => [entry.session.id, entry.status, entry.value]), [[next, 'ok', 3]], 'only the new page is called')
  })

  t.test(`the page calls greet: valid params, invalid ones, an unknown name (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const { base } = await rpcApp(t, { mode })
    const { page, errors } = await openPage(await newContext(t), base, mode)
    t.same(await callFromPage(page, 'greet', ['ada']), { value: 'hello ada' })
    // Checked by the app's Ajv with Fastify's options, as bodies are: a number is coerced to the string it declares.
    t.same(await callFromPage(page, 'greet', [42]), { value: 'hello 42' }, 'coerced as a body would be')
    for (const args of [['a name far too long'], [{ name: 'ada' }], []]) {
      t.match(await callFromPage(page, 'greet', args), { error: { name: 'RpcError', rpcError: true, code: RpcErrorCode.INVALID_PARAMS, message: /params of greet/ } }, JSON.stringify(args))
    }
    t.match(await callFromPage(page, 'nope', []), { error: { rpcError: true, code: RpcErrorCode.NOT_FOUND, message: /nope/ } })
    t.match(await callFromPage(page, 'constructor', []), { error: { code: RpcErrorCode.NOT_FOUND } }, 'not a name of Object.prototype either')
    t.same(errors, [], 'no page error')
  })

  t.test(`a connection cut and restored: the same session and data, onResume not onBoot, calls in flight both ways answered once (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const hooks: string[] = []
    const serverGate = gate()
    let serverRuns = 0
    const { app, port, functions } = await rpcApp(t, {
      mode,
      rpc: {
        sessionTtl: NEVER,
        data: () => ({ boots: 0 }),
        onBoot: (session) => { hooks.push(`boot ${session.id}`); (session.data as { boots: number }).boots++ },
        onResume: (session) => { hooks.push(`resume ${session.id}`) },
        onExpire: (session) => { hooks.push(`expire ${session.id}`) }
      },
      declare: (app) => {
        app.rpc.serverFunction('hold', { params: Type.Tuple([]), result: Type.String() }, async () => {
          serverRuns++
          await serverGate.opened
          return 'held on the server'
        })
      }
    })
    const proxy = await startProxy(t, port)
    const { page, session: id, errors } = await openPage(await newContext(t), `http://127.0.0.1:${proxy.port}/`, mode)
    const session = app.rpc.session(id) as Session
    const data = session.data
    t.same(hooks, [`boot ${id}`])

    // A call each way, running when the connection goes.
    const toPage = session.call(functions.held, ['resume'], { timeout: NEVER })
    await startCallFromPage(page, 'hold', 'hold', [])
    await until(page, ({ runs }) => runs.resume === 1, 'the page runs the server\'s call')
    await waitFor(() => serverRuns === 1, 'the server runs the page\'s call', LIMIT)

    proxy.down()
    await waitFor(() => !session.connected, 'the server sees the cut', LIMIT)
    await until(page, ({ events }) => events.includes('disconnected'), 'the page sees the cut')
    // Both answers are made while there is no connection: they wait for the resume.
    await release(page, 'resume', 'answered after the cut')
    serverGate.open()
    // And a call each way made during the cut: kept, and sent once the session is resumed.
    const duringCut = session.call(functions.held, ['during'], { timeout: NEVER })
    await release(page, 'during', 'called during the cut')
    await startCallFromPage(page, 'greet', 'greet', ['cut'])
    proxy.heal()

    t.equal(await within(toPage, LIMIT, 'the server\'s call'), 'answered after the cut')
    t.same(await outcome(page, 'hold'), { value: 'held on the server' })
    t.equal(await within(duringCut, LIMIT, 'the server\'s call made during the cut'), 'called during the cut')
    t.same(await outcome(page, 'greet'), { value: 'hello cut' })
    const seen = await until(page, ({ connected }) => connected, 'the page is connected again')
    t.equal(seen.session, id, 'the page has the same session')
    t.equal(seen.welcomes.at(-1)?.resumed, true, 'the server resumed it')
    t.same(seen.runs, { resume: 1, during: 1 }, 'each of the server\'s calls ran once in the page')
    t.equal(serverRuns, 1, 'the page\'s call ran once on the server')
    t.equal(app.rpc.session(id), session, 'the same session on the server')
    t.equal(session.data, data, 'its data kept')
    t.same(session.data, { boots: 1 })
    t.same(hooks, [`boot ${id}`, `resume ${id}`], 'onResume ran, not onBoot')
    t.ok(proxy.connections > 1, 'the page came back through the proxy')
    t.same(errors, [], 'no page error')
  })

  t.test(`a connection cut and not restored: the session expires after its TTL, pending calls rejected as expired (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const hooks: string[] = []
    const { app, port, functions } = await rpcApp(t, {
      mode,
      rpc: {
        sessionTtl: 300,
        onBoot: (session) => { hooks.push(`boot ${session.id}`) },
        onExpire: (session) => { hooks.push(`expire ${session.id}`) }
      },
      declare: (app) => {
        app.rpc.serverFunction('hold', { params: Type.Tuple([]), result: Type.String() }, async (_session, { signal }) => {
          await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })
          return 'never'
        })
      }
    })
    const proxy = await startProxy(t, port)
    const { page, session: id } = await openPage(await newContext(t), `http://127.0.0.1:${proxy.port}/`, mode)
    const session = app.rpc.session(id) as Session
    const pending = session.call(functions.held, ['expiry'], { timeout: NEVER })
    pending.catch(() => {})
    await startCallFromPage(page, 'hold', 'hold', [])
    await until(page, ({ runs }) => runs.expiry === 1, 'the page runs the server\'s call')

    proxy.down()
    await t.rejects(within(pending, LIMIT, 'the pending call'), { code: RpcErrorCode.EXPIRED })
    t.same(hooks, [`boot ${id}`, `expire ${id}`], 'onExpire ran')
    t.equal(app.rpc.session(id), undefined, 'the session is gone')

    // The network comes back: the page gets a new session, and its own call in flight learns the old one expired.
    proxy.heal()
    t.match(await outcome(page, 'hold'), { error: { rpcError: true, code: RpcErrorCode.EXPIRED } })
    const seen = await until(page, ({ connected, session }) => connected && session !== id, 'the page has a new session')
    t.equal(seen.welcomes.at(-1)?.resumed, false, 'not resumed')
    t.same(hooks, [`boot ${id}`, `expire ${id}`, `boot ${seen.session}`])
  })

  t.test(`a resume with another user's token is refused and starts a new session (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    // The test's auth: the user is the `user` cookie.
    const userOf = (cookie: string | undefined): string | undefined => /(?:^|;\s*)user=([^;]*)/.exec(cookie ?? '')?.[1]
    const { app, base, functions } = await rpcApp(t, { mode, rpc: { principal: (request) => userOf(request.headers.cookie) } })
    const contexts = { alice: await newContext(t), bob: await newContext(t) }
    await contexts.alice.addCookies([{ name: 'user', value: 'alice', url: base }])
    await contexts.bob.addCookies([{ name: 'user', value: 'bob', url: base }])
    const alice = await openPage(contexts.alice, base, mode)
    const bob = await openPage(contexts.bob, base, mode)
    const aliceSession = app.rpc.session(alice.session) as Session
    t.equal(aliceSession.principal, 'alice')
    t.equal((app.rpc.session(bob.session) as Session).principal, 'bob')
    // Alice's current token, from the welcome her page received.
    const token = (await snapshot(alice.page)).welcomes.at(-1)?.token as string
    t.type(token, 'string')

    /** A hello on a connection of our own (a socket, or a stream), as the user of `cookie`; resolves with the welcome. */
    const hello = async (cookie: string): Promise<{ session: string, resumed: boolean }> => {
      const text = JSON.stringify({ t: 'hello', v: 1, ack: 0, session: alice.session, token })
      if (mode === 'sse') {
        const stream = await within(openStream(`${base}/rpc/stream`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: text }), LIMIT, 'the stream opens')
        t.teardown(() => { stream.destroy() })
        return JSON.parse((await within(stream.event(0), LIMIT, 'the welcome')).data)
      }
      const ws = new WebSocket(`${base.replace('http', 'ws')}/rpc/socket`, { headers: { cookie } })
      t.teardown(() => { ws.terminate() })
      ws.on('error', () => {})
      await within(once(ws, 'open'), LIMIT, 'the socket opens')
      const welcome = once(ws, 'message')
      ws.send(text)
      const [message] = await within(welcome, LIMIT, 'the welcome')
      return JSON.parse(String(message))
    }

    const stolen = await hello('user=bob')
    t.equal(stolen.resumed, false, 'bob cannot resume alice\'s session')
    t.not(stolen.session, alice.session, 'bob gets a new session')
    t.equal((app.rpc.session(stolen.session) as Session).principal, 'bob')
    t.equal(aliceSession.connected, true, 'alice\'s page keeps its connection')
    const [entry] = await within(app.rpc.callAll(functions.add, [2, 3], { sessions: [aliceSession] }), LIMIT, 'alice\'s page answers')
    t.match(entry, { status: 'ok', value: 5 })

    // The control: the same token as alice does resume (so the refusal above was bob's, not the token's).
    const own = await hello('user=alice')
    t.same([own.session, own.resumed], [alice.session, true])
  })

  t.test(`a page under script-src 'self' with Trusted Types required connects and answers calls (${mode})`, { skip: BROWSER_SKIP }, async (t) => {
    const { app, base, functions } = await rpcApp(t, { mode, csp: true })
    const response = await fetch(base)
    t.equal(response.headers.get('content-security-policy'), POLICY)
    const { page, session, errors } = await openPage(await newContext(t), base, mode)
    const seen = await snapshot(page)
    t.same(seen.policy, { eval: 'EvalError', innerHTML: 'TypeError' }, 'the policy holds in the page')
    const entries = await within(app.rpc.callAll(functions.add, [1, 2]), LIMIT, 'callAll')
    t.same(entries.map((entry) => [entry.session.id, entry.status, entry.value]), [[session, 'ok', 3]])
    t.same(await callFromPage(page, 'greet', ['ada']), { value: 'hello ada' })
    t.same(errors, [], 'no page error')
  })
}
