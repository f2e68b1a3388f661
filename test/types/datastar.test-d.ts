// Type tests of `fastify-datastar/datastar`: plugin options, reply.datastar()
// in both forms, every DatastarStream method and its options, the one-shot
// replies, request.readSignals() (schema argument and route `schema.signals`)
// and fastify.datastarUrl().
import { expectAssignable, expectError, expectNotType, expectType } from 'tsd'
import Fastify, { type FastifyPluginAsync, type FastifyReply } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import datastarPlugin, {
  datastar as namedDatastar,
  type DatastarClientOptions,
  type DatastarPluginOptions,
  type DatastarReplyOptions,
  type RouteSignals
} from 'fastify-datastar/datastar'
import { DatastarStream, SSEStream } from 'fastify-datastar'

const app = Fastify()

// Registration and options.
expectType<FastifyPluginAsync<DatastarPluginOptions>>(datastarPlugin)
expectType<typeof datastarPlugin>(namedDatastar)
app.register(datastarPlugin)
app.register(datastarPlugin, {})
app.register(datastarPlugin, { keepAlive: 20_000 })
app.register(datastarPlugin, { keepAlive: false })
app.register(datastarPlugin, { client: {} })
app.register(datastarPlugin, { client: { version: '1.0.0-RC.7', source: 'cdn' } })
app.register(datastarPlugin, { client: { file: './datastar.js', source: '/static/datastar.js' } })
expectError(app.register(datastarPlugin, { keepAlive: 'x' }))
app.register(datastarPlugin, { maxSignalsDepth: 32 })
expectError(app.register(datastarPlugin, { maxSignalsDepth: '32' }))
expectError(app.register(datastarPlugin, { keepAlive: true }))
expectError(app.register(datastarPlugin, { client: { version: 1 } }))
expectError(app.register(datastarPlugin, { client: { source: 1 } }))
expectError(app.register(datastarPlugin, { client: { file: true } }))
expectError(app.register(datastarPlugin, { client: { cdn: true } }))
expectError(app.register(datastarPlugin, { client: true }))
expectAssignable<DatastarClientOptions>({ version: '1', source: 'cdn', file: './x.js' })

// fastify.datastarUrl()
expectType<string>(app.datastarUrl())

// reply.datastar(options?) returns the stream.
app.get('/feed', async (request, reply) => {
  const sse = reply.datastar()
  expectType<DatastarStream>(sse)
  expectAssignable<SSEStream>(sse)
  expectType<DatastarStream>(reply.datastar({}))
  expectType<DatastarStream>(reply.datastar({ keepAlive: 10_000 }))
  expectType<DatastarStream>(reply.datastar({ keepAlive: false, headers: { 'x-a': 'b' } }))
  expectType<DatastarStream>(reply.datastar({
    onConnect: (stream) => { expectType<DatastarStream>(stream) },
    onDisconnect: (stream) => { expectType<DatastarStream>(stream) }
  }))
  expectError(reply.datastar({ keepAlive: 'x' }))
  expectError(reply.datastar({ headers: { 'x-a': true } }))
  expectError(reply.datastar({ mode: 'inner' }))
  expectError(reply.datastar('<p></p>'))

  // The SSEStream surface is inherited.
  expectType<Promise<void>>(sse.closed)
  expectType<AbortSignal>(sse.signal)
  expectType<string | undefined>(sse.lastEventId)
  expectType<Promise<boolean>>(sse.send({ data: 'raw' }))
  expectType<Promise<boolean>>(sse.comment())
  expectType<void>(sse.close())
  expectType<void>(sse.onClose((s) => { expectType<DatastarStream>(s) }))

  // patchElements
  expectType<Promise<boolean>>(sse.patchElements('<div id="feed"></div>'))
  expectType<Promise<boolean>>(sse.patchElements('<li>new</li>', {
    selector: '#list',
    mode: 'append',
    namespace: 'html',
    useViewTransition: true,
    viewTransitionSelector: '#list',
    eventId: 'e1',
    retryDuration: 2000
  }))
  for (const mode of ['outer', 'inner', 'replace', 'prepend', 'append', 'before', 'after', 'remove'] as const) {
    expectType<Promise<boolean>>(sse.patchElements('<p id="x"></p>', { mode }))
  }
  expectType<Promise<boolean>>(sse.patchElements('<circle id="c"></circle>', { namespace: 'svg' }))
  expectType<Promise<boolean>>(sse.patchElements('<mi id="m">x</mi>', { namespace: 'mathml' }))
  expectError(sse.patchElements('<p></p>', { mode: 'sideways' }))
  expectError(sse.patchElements('<p></p>', { namespace: 'xml' }))
  expectError(sse.patchElements('<p></p>', { selector: 1 }))
  expectError(sse.patchElements('<p></p>', { useViewTransition: 'yes' }))
  expectError(sse.patchElements('<p></p>', { viewTransitionSelector: true }))
  expectError(sse.patchElements('<p></p>', { eventId: 1 }))
  expectError(sse.patchElements('<p></p>', { retryDuration: '1000' }))
  expectError(sse.patchElements('<p></p>', { onlyIfMissing: true }))
  expectError(sse.patchElements('<p></p>', { except: sse }))
  expectError(sse.patchElements(42))
  expectError(sse.patchElements())

  // removeElements / removeElementsById
  expectType<Promise<boolean>>(sse.removeElements('#toast'))
  expectType<Promise<boolean>>(sse.removeElements('#toast', { eventId: 'r1', retryDuration: 500 }))
  expectError(sse.removeElements('#toast', { mode: 'inner' }))
  expectType<Promise<boolean>>(sse.removeElements('#toast', { useViewTransition: true, viewTransitionSelector: '#list' }))
  expectType<Promise<boolean>>(sse.removeElementsById(['row-1'], { useViewTransition: true }))
  expectError(sse.removeElements('#toast', { useViewTransition: 'yes' }))
  expectError(sse.removeElements(['#a']))
  expectType<Promise<boolean>>(sse.removeElementsById('row-1'))
  expectType<Promise<boolean>>(sse.removeElementsById(['row-1', 'row-2']))
  expectType<Promise<boolean>>(sse.removeElementsById(['row-1'] as readonly string[], { eventId: 'r2' }))
  expectError(sse.removeElementsById(1))
  expectError(sse.removeElementsById([1, 2]))

  // patchSignals / removeSignals
  expectType<Promise<boolean>>(sse.patchSignals({ count: 1 }))
  expectType<Promise<boolean>>(sse.patchSignals({ user: { name: 'ada' }, draft: null }, { onlyIfMissing: true }))
  expectType<Promise<boolean>>(sse.patchSignals('{"count":1}'))
  expectType<Promise<boolean>>(sse.patchSignals({ count: 1 } as const, { eventId: 's1', retryDuration: 3000 }))
  expectError(sse.patchSignals(42))
  expectError(sse.patchSignals({ count: 1 }, { onlyIfMissing: 'yes' }))
  expectError(sse.patchSignals({ count: 1 }, { mode: 'inner' }))
  expectType<Promise<boolean>>(sse.removeSignals('draft'))
  expectType<Promise<boolean>>(sse.removeSignals(['user.name', 'draft'], { eventId: 's2' }))
  expectError(sse.removeSignals({ draft: true }))

  // executeScript and its sugar
  expectType<Promise<boolean>>(sse.executeScript('console.log("hi")'))
  expectType<Promise<boolean>>(sse.executeScript('import("/x.js")', { autoRemove: false, attributes: { type: 'module', async: true, nonce: null, defer: undefined, 'data-n': 1 } }))
  expectType<Promise<boolean>>(sse.executeScript('x()', { attributes: ['defer', 'type="module"'], eventId: 'x1', retryDuration: 100 }))
  expectError(sse.executeScript('x()', { autoRemove: 'no' }))
  expectError(sse.executeScript('x()', { attributes: { type: {} } }))
  expectError(sse.executeScript('x()', { attributes: 'defer' }))
  expectError(sse.executeScript(() => {}))
  expectType<Promise<boolean>>(sse.redirect('/done'))
  expectType<Promise<boolean>>(sse.redirect('/done', { eventId: 'r' }))
  expectError(sse.redirect(new URL('https://example.com')))
  expectType<Promise<boolean>>(sse.consoleLog('saved'))
  expectType<Promise<boolean>>(sse.consoleLog({ saved: true }, { retryDuration: 1000 }))
  expectType<Promise<boolean>>(sse.consoleError(new Error('not saved')))
  expectType<Promise<boolean>>(sse.consoleError('not saved', { eventId: 'e' }))
  expectType<Promise<boolean>>(sse.dispatchCustomEvent('saved'))
  expectType<Promise<boolean>>(sse.dispatchCustomEvent('saved', { id: 1 }))
  expectType<Promise<boolean>>(sse.dispatchCustomEvent('saved', undefined, { selector: '#form', bubbles: false, cancelable: false, composed: false, eventId: 'c', retryDuration: 1 }))
  expectError(sse.dispatchCustomEvent('saved', {}, { bubbles: 'no' }))
  expectError(sse.dispatchCustomEvent('saved', {}, { selector: 1 }))
  expectError(sse.dispatchCustomEvent(1))
  expectType<Promise<boolean>>(sse.replaceUrl('/items?page=2'))
  expectType<Promise<boolean>>(sse.replaceUrl('/items', { eventId: 'u' }))
  expectType<Promise<boolean>>(sse.prefetch('/next'))
  expectType<Promise<boolean>>(sse.prefetch(['/next', '/help'], { eventId: 'p' }))
  expectError(sse.prefetch(1))

  await sse.closed
  request.log.info('closed')
})

// reply.datastar(callback, options?) returns Promise<void>.
app.post('/save', async (_request, reply) => {
  const done = reply.datastar(async (sse) => {
    expectType<DatastarStream>(sse)
    await sse.patchSignals({ saved: true })
  })
  expectType<Promise<void>>(done)
  expectType<Promise<void>>(reply.datastar((sse) => sse.patchElements('<p id="x">done</p>')))
  expectType<Promise<void>>(reply.datastar(async () => {}, { keepAlive: false, onConnect: (sse) => { expectType<DatastarStream>(sse) } }))
  expectError(reply.datastar(async () => {}, { keepAlive: 'x' }))
  expectError(reply.datastar({}, async () => {}))
  await done
})

// One-shot replies return the reply.
app.get('/one-shot', async (_request, reply) => {
  expectType<FastifyReply>(reply.datastarElements('<p id="x">hi</p>'))
  expectType<FastifyReply>(reply.datastarElements('<p id="x">hi</p>', { selector: '#box', mode: 'inner', useViewTransition: true }))
  expectError(reply.datastarElements('<p></p>', { mode: 'sideways' }))
  expectError(reply.datastarElements('<p></p>', { selector: 1 }))
  expectError(reply.datastarElements('<p></p>', { useViewTransition: 'yes' }))
  expectError(reply.datastarElements(1))
  expectType<FastifyReply>(reply.datastarSignals({ count: 2 }))
  expectType<FastifyReply>(reply.datastarSignals('{"count":2}', { onlyIfMissing: true }))
  expectError(reply.datastarSignals(2))
  expectError(reply.datastarSignals({ count: 2 }, { onlyIfMissing: 1 }))
  expectType<FastifyReply>(reply.datastarScript('alert("saved")'))
  expectType<FastifyReply>(reply.datastarScript('x()', { attributes: { type: 'module' } }))
  expectType<FastifyReply>(reply.datastarScript('x()', { attributes: ['defer'] }))
  expectError(reply.datastarScript('x()', { attributes: 1 }))
  expectError(reply.datastarScript('x()', { autoRemove: false }))
  expectError(reply.datastarScript(() => {}))
  return reply.datastarElements('<p id="x">hi</p>')
})
app.get('/one-shot-signals', (_request, reply) => reply.datastarSignals({ count: 2 }))
app.get('/one-shot-script', async (_request, reply) => reply.datastarScript('x()'))

// Handler shapes.
app.get('/shape-void', async (_request, reply) => {
  reply.datastar().patchElements('<div id="feed"></div>')
})
app.get('/shape-sync-void', (_request, reply) => {
  reply.datastar().patchSignals({ count: 1 })
})
app.get('/shape-reply', async (_request, reply) => {
  reply.datastar().patchElements('<div id="feed"></div>')
  return reply
})
app.get('/shape-return', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ count: 1 }) }))
app.get('/shape-return-async', async (_request, reply) => reply.datastar(async (sse) => { sse.patchSignals({ count: 1 }) }))
app.get('/shape-await', async (_request, reply) => {
  await reply.datastar(async (sse) => { await sse.patchSignals({ count: 1 }) })
})
app.route({
  method: 'POST',
  url: '/shape-route',
  handler: (_request, reply) => reply.datastar(async (sse) => { sse.redirect('/') })
})

const CounterSignals = Type.Object({ count: Type.Number() })
type Counter = Static<typeof CounterSignals>

// request.readSignals(schema) is typed by the schema, with no cast.
const Todo = Type.Object({
  title: Type.String(),
  done: Type.Boolean(),
  tags: Type.Optional(Type.Array(Type.String()))
})
app.post('/todo', async (request, reply) => {
  const todo = request.readSignals(Todo)
  expectType<Static<typeof Todo>>(todo)
  expectType<{ title: string, done: boolean, tags?: string[] }>(todo)
  expectType<string>(todo.title)
  expectType<{ q: string }>(request.readSignals(Type.Object({ q: Type.String() })))
  expectType<number>(request.readSignals(Type.Number()))
  expectError(todo.missing)
  expectError(request.readSignals('title'))
  return reply.datastarSignals({ saved: todo.title })
})

// On a route without `schema.signals`, readSignals() is a plain record.
app.get('/plain', async (request) => {
  const signals = request.readSignals()
  expectType<Record<string, unknown>>(signals)
  expectType<unknown>(signals.anything)
})
app.post('/plain-with-body-schema', { schema: { body: Type.Object({ a: Type.String() }) } }, async (request) => {
  expectType<Record<string, unknown>>(request.readSignals())
})

// Instance-wide hooks know no route schema: a plain record.
app.addHook('preHandler', async (request) => {
  expectType<Record<string, unknown>>(request.readSignals())
  expectType<{ count: number }>(request.readSignals(CounterSignals))
})

// A JSON Schema that is not TypeBox also gives a plain record.
app.post('/json-schema', { schema: { signals: { type: 'object', properties: { count: { type: 'number' } } } } }, async (request) => {
  expectType<Record<string, unknown>>(request.readSignals())
})

// On a route declared with `schema.signals`, readSignals() is typed by it.
app.post('/inc', { schema: { signals: CounterSignals } }, async (request, reply) => {
  const signals = request.readSignals()
  expectType<Static<typeof CounterSignals>>(signals)
  expectType<{ count: number }>(signals)
  expectNotType<Record<string, unknown>>(signals)
  expectError(signals.other)
  // An explicit schema still wins.
  expectType<{ step: number }>(request.readSignals(Type.Object({ step: Type.Number() })))
  return reply.datastar(async (sse) => {
    await sse.patchSignals({ count: signals.count + 1 })
  })
})
app.post('/inc-inline', { schema: { signals: Type.Object({ count: Type.Number(), label: Type.String() }) } }, (request, reply) => {
  expectType<{ count: number, label: string }>(request.readSignals())
  reply.datastar().patchSignals({ count: request.readSignals().count + 1 })
})
app.get('/inc-hooks', {
  schema: { signals: CounterSignals },
  preHandler: async (request) => {
    expectType<{ count: number }>(request.readSignals())
  }
}, async (request) => {
  expectType<Counter>(request.readSignals())
})
app.route({
  method: 'POST',
  url: '/inc-route',
  schema: { signals: CounterSignals },
  handler: async (request, reply) => {
    expectType<{ count: number }>(request.readSignals())
    return reply.datastarSignals({ count: request.readSignals().count + 1 })
  }
})

// RouteSignals, the type readSignals() uses.
expectType<{ count: number }>({} as RouteSignals<{ signals: typeof CounterSignals }>)
expectType<Record<string, unknown>>({} as RouteSignals<{ signals: { type: 'object' } }>)
expectType<Record<string, unknown>>({} as RouteSignals<object>)

// Exported option types.
expectAssignable<DatastarReplyOptions>({ keepAlive: false, onConnect: (sse: DatastarStream) => { sse.patchSignals({}) } })

// A route that spells out its generics names its signals there (TypeScript infers nothing then).
app.post<{ Params: { id: string }, Signals: { count: number } }>('/explicit/:id', { schema: { signals: CounterSignals } }, async (request) => {
  expectType<string>(request.params.id)
  expectType<{ count: number }>(request.readSignals())
})
