/**
 * CQRS with a fat morph, in the spirit of datastar-cl's `glitch` / `fat-cqrs`.
 *
 * - Reads: each tab opens ONE long-lived stream, `GET /cqrs/updates`, and keeps
 *   it. The stream joins the registry `app.registry('cqrs')`, keyed by the
 *   tab's session id (a signal the page was rendered with).
 * - Commands: short requests (`POST /cqrs/todos`, `POST /cqrs/todos/:id/toggle`,
 *   `DELETE /cqrs/todos/:id`) validate their signals, change the server's
 *   state and answer 204. They answer nothing else: the result reaches every
 *   tab through its read stream.
 * - Fat morph: after every change the whole view, `<main id="app">…</main>`, is
 *   rendered again and broadcast with `registry.patchElements(html)`; encoded
 *   once, the same bytes go to every tab, and the client morphs it in. No
 *   per-change patch logic: the view is a function of the state.
 * - Unicast: the tab that added a todo also gets
 *   `registry.to(sessionId).patchSignals({ draft: '' })`, which clears its input
 *   and no one else's.
 *
 * The input sits outside `#app` (the morph target) so that a broadcast caused
 * by another tab never touches what this tab is typing; `data-init` sits
 * outside it too, on the element that keeps the stream.
 *
 * The session id is a routing key, not a credential: a tab could claim another
 * tab's id and clear its draft. Key by an authenticated session when that matters.
 *
 * Run it alone: `npm run build && node dist/examples/cqrs.js`, then open
 * http://127.0.0.1:3003/cqrs in two tabs.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { escapeHtml } from 'fastify-datastar/core'
import { exampleApp, isMain, serveAlone } from './run-alone.js'

/** A todo of the shared list. */
export interface Todo {
  id: number
  text: string
  done: boolean
}

/** The tab's session id, the unicast key of its read stream. */
const SessionId = Type.String({ minLength: 1, maxLength: 64 })

/** The signals every command and the read stream send: at least the session id. */
export const SessionSignals = Type.Object({ sessionId: SessionId })

/** The signals of `POST /cqrs/todos`: the session id and a draft with some text in it. */
export const AddTodoSignals = Type.Object({
  sessionId: SessionId,
  draft: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })
})

/** The `:id` of the commands on one todo. */
const TodoParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })

/** The name of the example's registry. */
export const CQRS_REGISTRY = 'cqrs'

function renderTodo (todo: Todo): string {
  return `<li id="todo-${todo.id}"${todo.done ? ' class="done"' : ''}>
      <button data-on:click="@post('/cqrs/todos/${todo.id}/toggle')" aria-label="${todo.done ? 'Mark as not done' : 'Mark as done'}">${todo.done ? '☑' : '☐'}</button>
      <span>${escapeHtml(todo.text)}</span>
      <button data-on:click="@delete('/cqrs/todos/${todo.id}')" aria-label="Delete">×</button>
    </li>`
}

/**
 * The whole view: the read side renders it from the state, every time. User
 * text is escaped; everything else is the app's own.
 */
export function renderApp (todos: readonly Todo[]): string {
  const left = todos.filter((todo) => !todo.done).length
  const items = todos.length === 0
    ? '<li class="empty">Nothing to do.</li>'
    : todos.map(renderTodo).join('\n    ')
  return `<main id="app">
  <p id="summary">${left} of ${todos.length} left</p>
  <ul id="todos">
    ${items}
  </ul>
</main>`
}

/** The page of one tab: a fresh session id, the command input, the view. */
function page (clientUrl: string, sessionId: string, todos: readonly Todo[]): string {
  const signals = escapeHtml(JSON.stringify({ sessionId, draft: '' }))
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar CQRS</title>
  <script type="module" src="${clientUrl}"></script>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem }
    #todos { list-style: none; padding: 0 }
    #todos li { display: flex; gap: .5rem; align-items: center; padding: .25rem 0 }
    #todos li.done span { text-decoration: line-through; opacity: .6 }
  </style>
</head>
<body>
  <div data-signals="${signals}" data-init="@get('/cqrs/updates')">
    <h1>Shared todos</h1>
    <p>Open this page in two tabs: a command in one shows up in both.</p>
    <input data-bind:draft placeholder="What needs doing?" maxlength="200"
           data-on:keydown="evt.key === 'Enter' && @post('/cqrs/todos')">
    <button data-on:click="@post('/cqrs/todos')">Add</button>
    ${renderApp(todos)}
  </div>
</body>
</html>
`
}

/** The CQRS example's routes; register `fastify-datastar` on the instance first. */
export const cqrs: FastifyPluginAsync = async (fastify) => {
  // The write model: this plugin's own, so every app built gets a fresh list.
  const todos = new Map<number, Todo>()
  let nextId = 1

  // The view is the state: a tab that reconnects gets the whole view again,
  // so replaying the fat morphs it missed would only repeat work.
  const updates = fastify.registry(CQRS_REGISTRY, { replay: 0 })
  const view = (): string => renderApp([...todos.values()])

  fastify.get('/cqrs', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').send(page(fastify.datastarUrl(), randomUUID(), [...todos.values()]))
  })

  // The read side: one stream per tab, kept open. It starts with the current
  // view (which covers anything that happened since the page was rendered),
  // then joins the registry under the tab's key.
  fastify.get('/cqrs/updates', { schema: { signals: SessionSignals } }, async (request, reply) => {
    const { sessionId } = request.readSignals()
    const sse = reply.datastar()
    sse.patchElements(view())
    updates.add(sse, { key: sessionId })
  })

  // The write side: change the state, broadcast the fat morph, answer 204.
  fastify.post('/cqrs/todos', { schema: { signals: AddTodoSignals } }, async (request, reply) => {
    const { sessionId, draft } = request.readSignals()
    const todo: Todo = { id: nextId++, text: draft.trim(), done: false }
    todos.set(todo.id, todo)
    await updates.patchElements(view())
    // Only the requester's tab clears its input.
    await updates.to(sessionId).patchSignals({ draft: '' })
    return reply.code(204).send()
  })

  fastify.post('/cqrs/todos/:id/toggle', { schema: { signals: SessionSignals, params: TodoParams } }, async (request, reply) => {
    const { id } = request.params as Static<typeof TodoParams>
    const todo = todos.get(id)
    if (todo === undefined) return reply.code(404).send({ error: 'Not Found', message: `no todo ${id}` })
    todo.done = !todo.done
    await updates.patchElements(view())
    return reply.code(204).send()
  })

  fastify.delete('/cqrs/todos/:id', { schema: { signals: SessionSignals, params: TodoParams } }, async (request, reply) => {
    const { id } = request.params as Static<typeof TodoParams>
    if (!todos.delete(id)) return reply.code(404).send({ error: 'Not Found', message: `no todo ${id}` })
    await updates.patchElements(view())
    return reply.code(204).send()
  })
}

/** The CQRS app: `fastify-datastar` and the example's routes, with its page at `/cqrs`. */
export async function buildCqrsApp (options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(cqrs, options)
}

if (isMain(import.meta.url)) await serveAlone(() => buildCqrsApp({ logger: true }), 3003, 'CQRS example', '/cqrs')
