/**
 * The RPC example over real sockets of 127.0.0.1, its pages driven from Node
 * by the client runtime on ws (the served functions module imported as a
 * browser would): the admin's add(1, 2) lists every open page with 3; the
 * confirm flow resolves with the page's answer, and times out (the page's
 * signal aborting) when the page never answers; the samples of docs/rpc.md
 * are the example's code.
 */
import { readFileSync } from 'node:fs'
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import { SSEParser } from 'fastify-datastar/core'
import { RpcClient, RpcErrorCode, type ConnectOptions } from 'fastify-datastar/rpc'
import { buildDemoApp } from '../examples/demo.js'
import { buildRpcApp, QUESTION, type OmgOptions } from '../examples/rpc.js'
import { fetchPage, listen, waitFor, within } from './helpers.js'

/** The bound of every wait (a failure message, never a measurement). */
const LIMIT = 5000

type PageFunctions = NonNullable<ConnectOptions['functions']>

interface Harness {
  app: FastifyInstance
  base: string
  /** Opens a page: the served entry's functions module and the client on ws, with the page's own `functions`. */
  page: (functions?: PageFunctions) => Promise<RpcClient>
  /** POSTs as Datastar's `@post` does and returns the elements the answer patches, as one text. */
  post: (path: string) => Promise<{ status: number, elements: string }>
}

async function boot (t: Test, omgOptions: OmgOptions = {}): Promise<Harness> {
  const app = await buildRpcApp({}, omgOptions)
  const base = await listen(app)
  const clients: RpcClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.close()
    await app.close()
  })
  const page = async (functions: PageFunctions = {}): Promise<RpcClient> => {
    const entry = await (await fetch(`${base}/rpc/client.js`)).text()
    const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1] as string
    const source = await (await fetch(`${base}/rpc/functions.${hash}.js`)).text()
    const module = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { functions: PageFunctions }
    const client = await new RpcClient({
      url: `${base.replace('http', 'ws')}/rpc/socket`,
      WebSocket: WebSocket as unknown as ConnectOptions['WebSocket'],
      module: { hash, functions: module.functions },
      functions,
      reconnect: { initialDelay: 10, maxDelay: 50 }
    }).start()
    clients.push(client)
    return client
  }
  const post = async (path: string): Promise<{ status: number, elements: string }> => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'datastar-request': 'true' }, body: '{}' })
    const events = new SSEParser().push(await response.text())
    const elements = events.filter((event) => event.event === 'datastar-patch-elements')
      .flatMap((event) => event.data.split('\n').filter((line) => line.startsWith('elements ')).map((line) => line.slice('elements '.length)))
    return { status: response.status, elements: elements.join('\n') }
  }
  return { app, base, page, post }
}

/** The rows of the admin's table: [session, status, value]. */
function rows (html: string): string[][] {
  const row = /<tr id="page-([\w-]+)">\s*<td><code>[\w-]+<\/code><\/td>\s*<td class="status">(\w+)<\/td>\s*<td class="value">([^<]*)<\/td>/g
  return [...html.matchAll(row)].map(([, session, status, value]) => [session as string, status as string, value as string])
}

test('the admin runs add(1, 2) in every open page and lists each with 3', async (t) => {
  const { post, page } = await boot(t)
  const pages = await Promise.all([page(), page(), page()])
  const { status, elements } = await post('/omg/add')
  t.equal(status, 200)
  const expected = pages.map((client) => [client.session as string, 'ok', '3'])
  t.same(rows(elements).sort(), expected.sort(), 'each open page, once, with its answer')
  for (const client of pages) t.match(elements, `@post('/omg/ask/${client.session as string}')`, 'an Ask button per page')
})

test('the admin lists a page whose add fails with its status and code', async (t) => {
  const { post, page } = await boot(t)
  // A page that runs its own add, which answers a string: the server checks the result against the schema.
  const liar = await page({ add: () => 'three' })
  const honest = await page()
  const { elements } = await post('/omg/add')
  t.same(rows(elements).sort(), [[liar.session as string, 'invalid', RpcErrorCode.INVALID_RESULT], [honest.session as string, 'ok', '3']].sort())
})

test('confirm: the server asks one page and shows its answer', async (t) => {
  const { post, page } = await boot(t)
  const asked: string[] = []
  const yes = await page({ confirm: (question: string) => { asked.push(question); return true } })
  const no = await page({ confirm: async () => false })
  const answer = await post(`/omg/ask/${yes.session as string}`)
  t.equal(answer.status, 200)
  t.equal(answer.elements, `<output id="answer-${yes.session as string}">yes</output>`)
  t.same(asked, [QUESTION], 'only the page asked, once, with the question')
  t.equal((await post(`/omg/ask/${no.session as string}`)).elements, `<output id="answer-${no.session as string}">no</output>`)
  t.equal((await post('/omg/ask/no-such-session')).status, 404, 'an unknown session')
  t.equal((await post('/omg/ask/not%20an%20id')).status, 400, 'not a session id')
})

test('confirm: a page that never answers times out, and its dialog is told to close', async (t) => {
  const { post, page } = await boot(t, { askTimeout: 200 })
  let aborted: unknown
  const silent = await page({
    confirm: (_question: string, { signal }: { signal: AbortSignal }) => new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { aborted = signal.reason; reject(signal.reason) }, { once: true })
    })
  })
  const answer = await within(post(`/omg/ask/${silent.session as string}`), LIMIT, 'the answer of the timeout')
  t.equal(answer.elements, `<output id="answer-${silent.session as string}">no answer in time</output>`)
  await waitFor(() => aborted !== undefined, 'the page\'s signal to abort', LIMIT)
  t.match(aborted, { code: RpcErrorCode.TIMEOUT }, 'the page\'s confirm saw its signal abort: the server gave up')
})

test('the pages: the page imports /rpc/client.js, the admin view is a Datastar page; the demo links both', async (t) => {
  const { app, base } = await boot(t)
  t.match(await fetchPage(t, base, '/omg'), "import { connect } from '/rpc/client.js'")
  t.match(await fetchPage(t, base, '/omg/admin', app), "@post('/omg/add')")
  const entry = await fetch(`${base}/rpc/client.js`)
  t.equal(entry.status, 200)
  t.match(await entry.text(), /export function connect/)

  const demo = await buildDemoApp()
  t.teardown(() => demo.close())
  const demoBase = await listen(demo)
  const home = await fetchPage(t, demoBase, '/', demo)
  t.match(home, 'href="/omg"')
  t.match(home, 'href="/omg/admin"')
  t.equal((await fetch(`${demoBase}/omg`)).status, 200, 'the demo serves the RPC page')
  t.equal((await fetch(`${demoBase}/rpc/client.js`)).status, 200, 'and the client')
})

test('the samples of docs/rpc.md are the example\'s code', async (t) => {
  const docs = readFileSync(new URL('../docs/rpc.md', import.meta.url), 'utf8')
  const quickStart = /## Quick start([\s\S]*?)\n## /.exec(docs)?.[1]
  if (quickStart === undefined) throw new Error('no quick start')
  const samples = [...quickStart.matchAll(/```(?:ts|html)\n([\s\S]*?)```/g)].map(([, sample]) => sample as string)
  t.equal(samples.length, 2, 'a server sample and a page sample')
  const example = new Set(readFileSync(new URL('../examples/rpc.ts', import.meta.url), 'utf8').split('\n'))
  for (const sample of samples) {
    t.same(sample.split('\n').filter((line) => line.trim() !== '' && !example.has(line)), [], 'lines of the sample the example does not have')
  }
})
