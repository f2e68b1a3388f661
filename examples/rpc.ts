/**
 * Browser RPC: the README example of Common Lisp's OMG and its modal dialog,
 * on `fastify-datastar/rpc` (docs/rpc.md walks through it).
 *
 * - The page at `/omg` connects (`import { connect } from '/rpc/client.js'`):
 *   one session per open page, its id shown on the page.
 * - The admin view at `/omg/admin` runs `add(1, 2)` in every open page
 *   (`callAll`) and shows who answered what: each session with its status and
 *   value. `add` is written here, on the server, and runs in the pages: it is
 *   shipped to them in the generated module, never as text to evaluate.
 * - The modal dialog done right: "Ask" on a row POSTs `/omg/ask/:session`;
 *   the server calls that one page's `confirm` and awaits its answer, with a
 *   timeout. Nothing blocks: the page implements `confirm` itself (it is
 *   declared without a body) with a `<dialog>`, and when the server gives up,
 *   the call's signal aborts and the dialog closes.
 *
 * The admin view is a Datastar page. This example has no login: in an app,
 * put your auth hooks on `/omg/admin` and the `/omg/*` routes.
 *
 * - Two nodes, one Redis: `buildRpcNodes()` gives each node the RPC plugin
 *   with a `RedisBackplane`. The admin view on either node then reaches the
 *   pages of both (`callAll` lists every node's sessions, "Ask" is routed to
 *   the page's node), and a page that reconnects to the other node keeps its
 *   session.
 *
 * Run it alone: `npm run build && node dist/examples/rpc.js`, then open
 * http://127.0.0.1:3012/omg in two tabs and http://127.0.0.1:3012/omg/admin in a third.
 * On two nodes, with a Redis at REDIS_URL: `REDIS_URL=redis://127.0.0.1:6379
 * node dist/examples/rpc.js`, then open http://127.0.0.1:3012/omg,
 * http://127.0.0.1:3013/omg and the admin view of either.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { escapeHtml } from 'fastify-datastar/core'
import rpc, { RpcErrorCode, type CallEntry, type RpcError } from 'fastify-datastar/rpc'
import { RedisBackplane, type RedisBackplaneOptions } from 'fastify-datastar/redis'
import type { Backplane } from 'fastify-datastar/registry'
import { buildPair, exampleApp, isMain, serveAlone, serveTwoNodes } from './run-alone.js'

/** Options of the example's routes. */
export interface OmgOptions {
  /** How long `POST /omg/ask/:session` waits for the page's answer, in ms. Default 30 000. */
  askTimeout?: number
  /** Sessions across nodes: the backplane the nodes share. */
  backplane?: Backplane
}

/** The question the admin asks a page. */
export const QUESTION = 'The admin asks: may we proceed?'

/** The `:session` of `POST /omg/ask/:session`: a session id. */
const AskParams = Type.Object({ session: Type.String({ pattern: '^[\\w-]{1,64}$' }) })

/** The page each user opens: it connects, shows its session, and answers `confirm` with a dialog. */
const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar RPC: a page</title>
  <style>body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem }</style>
</head>
<body>
  <h1>A page</h1>
  <p>Session <code id="session">…</code>: <span id="state">connecting</span>.</p>
  <p>Open <a href="/omg/admin">the admin view</a> in another tab, and this page in more.</p>
  <script type="module">
    import { connect } from '/rpc/client.js'

    // The page's own confirm: a dialog that blocks nothing, closed when the server gives up.
    function confirm (question, { signal }) {
      const dialog = document.createElement('dialog')
      dialog.innerHTML = '<form method="dialog"><p></p><button value="yes">Yes</button> <button value="no">No</button></form>'
      dialog.querySelector('p').textContent = question
      document.body.append(dialog)
      dialog.showModal()
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => { dialog.close(); reject(signal.reason) }, { once: true })
        dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'yes') }, { once: true })
      })
    }

    const server = await connect({ functions: { confirm } })
    const show = () => {
      document.getElementById('session').textContent = server.session
      document.getElementById('state').textContent = server.connected ? 'connected' : 'reconnecting'
    }
    server.addEventListener('connected', show)
    server.addEventListener('disconnected', show)
    // The server's browser functions changed (a deploy): this page runs an old copy of them.
    server.addEventListener('update', () => { location.reload() })
    show()
  </script>
</body>
</html>
`

/** The admin view: a Datastar page. */
function adminPage (clientUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar RPC: admin</title>
  <script type="module" src="${clientUrl}"></script>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem }
    td, th { text-align: left; padding: .25rem .75rem .25rem 0 }
  </style>
</head>
<body>
  <h1>Admin</h1>
  <p><button data-on:click="@post('/omg/add')">Run add(1, 2) in every open page</button></p>
  ${renderAnswers([])}
</body>
</html>
`
}

/**
 * Who answered what: one row per session, with a button that asks that page.
 * Session ids and statuses are the server's own; values and error codes come
 * from the pages and are escaped, as anything a page sends.
 */
export function renderAnswers (entries: ReadonlyArray<CallEntry<{ id: string }, number>>): string {
  const rows = entries.map(({ session, status, value, error }) => `<tr id="page-${session.id}">
        <td><code>${session.id}</code></td>
        <td class="status">${status}</td>
        <td class="value">${escapeHtml(status === 'ok' ? String(value) : error?.code ?? '')}</td>
        <td><button data-on:click="@post('/omg/ask/${session.id}')">Ask</button> <output id="answer-${session.id}"></output></td>
      </tr>`)
  const body = entries.length === 0 ? '<tr><td colspan="4">Press the button: every open page answers.</td></tr>' : rows.join('\n      ')
  return `<table id="answers">
    <thead><tr><th>session</th><th>status</th><th>value</th><th>confirm</th></tr></thead>
    <tbody>
      ${body}
    </tbody>
  </table>`
}

/** The example's routes; register `fastify-datastar` on the instance first. */
export const omg: FastifyPluginAsync<OmgOptions> = async (fastify, options) => {
  const askTimeout = options.askTimeout ?? 30_000
  await fastify.register(rpc, { backplane: options.backplane })

  // Written here, run in each page: shipped in the generated module /rpc/functions.<hash>.js.
  const add = fastify.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
  // Declared without a body: each page implements it, connect({ functions: { confirm } }).
  const confirm = fastify.rpc.browserFunction('confirm', { params: Type.Tuple([Type.String()]), result: Type.Boolean() })

  // OMG's README example: add(1, 2) in every open page, and who answered what.
  fastify.post('/omg/add', (_request, reply) => reply.datastar(async (sse) => {
    const entries = await fastify.rpc.callAll(add, [1, 2], { timeout: 5000 })
    await sse.patchElements(renderAnswers(entries))
  }))

  // The modal dialog done right: ask one page and await its answer, or give up after askTimeout.
  fastify.post<{ Params: Static<typeof AskParams> }>('/omg/ask/:session', { schema: { params: AskParams } }, async (request, reply) => {
    const session = fastify.rpc.session(request.params.session)
    if (session === undefined) return await reply.code(404).send({ message: 'no such session' })
    return await reply.datastar(async (sse) => {
      const answer = await session.call(confirm, [QUESTION], { timeout: askTimeout }).then(
        (yes) => (yes ? 'yes' : 'no'),
        (error: RpcError) => (error.code === RpcErrorCode.TIMEOUT ? 'no answer in time' : `no answer: ${error.code}`))
      await sse.patchElements(`<output id="answer-${session.id}">${escapeHtml(answer)}</output>`)
    })
  })

  fastify.get('/omg', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page))
  fastify.get('/omg/admin', async (_request, reply) => reply.type('text/html; charset=utf-8').send(adminPage(fastify.datastarUrl())))
}

/** The RPC example app: `fastify-datastar`, the RPC plugin and the example's routes. */
export async function buildRpcApp (options: FastifyServerOptions = {}, omgOptions: OmgOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(async (fastify) => { await fastify.register(omg, omgOptions) }, options)
}

/** Options of `buildRpcNodes()`. */
export interface RpcNodesOptions {
  /** Where Redis is: a redis:// URL or ioredis options. Default redis://127.0.0.1:6379. */
  redis?: RedisBackplaneOptions['redis']
  /** Options of both Fastify instances. */
  server?: FastifyServerOptions
  /** Options of the example's routes on both. */
  omg?: OmgOptions
}

/**
 * Two RPC nodes, A and B, whose sessions are shared through Redis; neither is
 * listening yet. Each has a backplane of its own, closed with its app.
 * @example
 * const { a, b } = await buildRpcNodes({ redis: 'redis://127.0.0.1:6379' })
 * await a.listen({ port: 3012 })
 * await b.listen({ port: 3013 })
 */
export async function buildRpcNodes (options: RpcNodesOptions = {}): Promise<{ a: FastifyInstance, b: FastifyInstance }> {
  return await buildPair(() => buildRpcApp(options.server, { ...options.omg, backplane: new RedisBackplane({ redis: options.redis }) }))
}

if (isMain(import.meta.url)) {
  const redis = process.env.REDIS_URL
  if (redis === undefined) await serveAlone(() => buildRpcApp({ logger: true }), 3012, 'RPC example', '/omg')
  else await serveTwoNodes(await buildRpcNodes({ redis, server: { logger: true } }), [3012, 3013], 'RPC example on two nodes', '/omg')
}
