/**
 * `fastify-datastar/datastar`: the Datastar SDK for Fastify. Decorates
 * `reply.datastar()`, the one-shot replies `reply.datastarElements()`,
 * `reply.datastarSignals()` and `reply.datastarScript()`, `request.readSignals()`
 * and `fastify.datastarUrl()`; validates `schema.signals` on routes.
 *
 * @example
 * await app.register(datastarPlugin)
 * app.post('/inc', { schema: { signals: Type.Object({ count: Type.Number() }) } },
 *   (request, reply) => reply.datastar(async (sse) => {
 *     sse.patchSignals({ count: request.readSignals().count + 1 })
 *   }))
 */
import fp from 'fastify-plugin'
import { readFile } from 'node:fs/promises'
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifyTypeProvider, FastifyTypeProviderDefault, ContextConfigDefault, RawRequestDefaultExpression, RawServerBase, RawServerDefault, RouteGenericInterface, preHandlerHookHandler } from 'fastify'
import type { FastifyRequestType, ResolveFastifyRequestType } from 'fastify/types/type-provider.js'
import type { Static, TSchema } from '@sinclair/typebox'
import { FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION, FST_ERR_DATASTAR_SIGNALS_UNVALIDATED, FST_ERR_VALIDATION } from '../src/errors.js'
import { DatastarStream } from '../src/datastar/stream.js'
import { elementsResponse, scriptResponse, signalsResponse, type ElementsResponseOptions, type OneShotResponse, type ScriptResponseOptions, type SignalsResponseOptions } from '../src/datastar/one-shot.js'
import { DEFAULT_MAX_SIGNALS_DEPTH, readSignals, type ParseSignalsOptions, type PoisoningAction, type Signals } from '../src/datastar/signals.js'
import { datastarUrl, type DatastarUrlOptions } from '../src/datastar/url.js'
import type { SignalsPatch } from '../src/datastar/events.js'
import { kSignals } from '../src/symbols.js'
import { validateStreamSettings, type StreamSettings } from '../src/sse/options.js'
import { sse } from './sse.js'
import { compileValidator, type Validation } from './validation.js'
import { streamTracker, type StreamCallback, type StreamReplyOptions } from './reply-stream.js'

/** Where the page gets the Datastar client. */
export interface DatastarClientOptions extends DatastarUrlOptions {
  /**
   * A local copy of the client script to serve (self-hosting). It is served at
   * `source` (default `/datastar.js`) and `fastify.datastarUrl()` points there.
   */
  file?: string
}

/** Options of the Datastar plugin. */
export interface DatastarPluginOptions extends StreamSettings {
  /** Client script version or source (see `datastarUrl`). */
  client?: DatastarClientOptions
  /** Deepest nesting of signals accepted (the object itself is level 1); deeper is a 400. Default 64. */
  maxSignalsDepth?: number
}

/** Options of `reply.datastar()`. */
export type DatastarReplyOptions = StreamReplyOptions<DatastarStream>

/** The signals type of a route: `Static<typeof schema.signals>` for a TypeBox schema, else a plain record. */
export type RouteSignals<SchemaCompiler> = SchemaCompiler extends { signals: infer S }
  ? S extends TSchema ? Static<S> : Signals
  : Signals

declare module 'fastify' {
  interface FastifySchema {
    /** The route's signals (TypeBox or JSON Schema), validated before the handler runs. */
    signals?: unknown
  }

  interface FastifyReply {
    /**
     * Starts a Datastar event stream on this reply and writes its head at once.
     * @example const sse = reply.datastar(); sse.patchSignals({ count: 1 })
     */
    datastar(options?: DatastarReplyOptions): DatastarStream
    /**
     * Runs `callback` on a Datastar stream that closes when the callback settles.
     * @example return reply.datastar(async (sse) => { sse.patchElements('<p id="x">done</p>') })
     */
    datastar(callback: StreamCallback<DatastarStream>, options?: DatastarReplyOptions): Promise<void>
    /**
     * Answers with `text/html` elements that the client patches (no SSE).
     * @example return reply.datastarElements('<p id="x">hi</p>', { mode: 'inner', selector: '#box' })
     */
    datastarElements(elements: string, options?: ElementsResponseOptions): FastifyReply
    /**
     * Answers with `application/json` signals that the client patches (no SSE).
     * @example return reply.datastarSignals({ count: 2 })
     */
    datastarSignals(signals: SignalsPatch, options?: SignalsResponseOptions): FastifyReply
    /**
     * Answers with `text/javascript` that the client runs (no SSE).
     * @example return reply.datastarScript('alert("saved")')
     */
    datastarScript(script: string, options?: ScriptResponseOptions): FastifyReply
  }

  // Declaration merging needs Fastify's exact type parameters, used or not.
  /* eslint-disable @typescript-eslint/no-unused-vars */
  interface FastifyRequest<
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    ContextConfig = ContextConfigDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
    RequestType extends FastifyRequestType = ResolveFastifyRequestType<TypeProvider, SchemaCompiler, RouteGeneric>
  > {
    /**
     * The signals the Datastar client sent, validated against `schema` (through
     * the route's validator compiler) and typed `Static<typeof schema>`.
     * Bad JSON or a schema violation throws a 400 error.
     * @example const { count } = request.readSignals(Type.Object({ count: Type.Number() }))
     */
    readSignals<S extends TSchema>(schema: S): Static<S>
    /**
     * The signals validated against a plain JSON Schema (untyped).
     * @example request.readSignals({ type: 'object', required: ['id'] })
     */
    readSignals(schema: Readonly<Record<string, unknown>> | boolean): Signals
    /**
     * The signals the Datastar client sent: validated and typed by the route's
     * `schema.signals` when it has one, else the parsed JSON object. A route
     * that spells out its generics (`app.post<{ Params: P, Signals: S }>`)
     * types them with its `Signals` entry, since TypeScript then infers nothing.
     * @example const signals = request.readSignals()
     */
    readSignals(): RouteGeneric extends { Signals: infer T } ? T : RouteSignals<SchemaCompiler>
  }
  /* eslint-enable @typescript-eslint/no-unused-vars */

  interface FastifyInstance {
    /**
     * The Datastar client URL configured by the plugin's `client` option.
     * @example `<script type="module" src="${app.datastarUrl()}"></script>`
     */
    datastarUrl(): string
  }
}

interface SignalsSlot {
  [kSignals]: Signals | null
}

const datastarPlugin: FastifyPluginAsync<DatastarPluginOptions> = async (fastify, options) => {
  const streamDefaults = validateStreamSettings(options)
  const client = options.client ?? {}
  const clientUrl = checkOption('client', () => {
    const url = datastarUrl({ version: client.version, source: client.file !== undefined && client.source === undefined ? '/datastar.js' : client.source })
    if (client.file !== undefined && !url.startsWith('/')) throw new Error(`a served client.file needs a path as client.source, got ${url}`)
    return url
  })
  const maxDepth = options.maxSignalsDepth ?? DEFAULT_MAX_SIGNALS_DEPTH
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    throw new FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION('maxSignalsDepth', `expected a positive integer, got ${String(options.maxSignalsDepth)}`)
  }
  const parseOptions: ParseSignalsOptions = {
    protoAction: fastify.initialConfig.onProtoPoisoning as PoisoningAction | undefined,
    constructorAction: fastify.initialConfig.onConstructorPoisoning as PoisoningAction | undefined,
    maxDepth
  }
  // The parts of a request signals come from, its Content-Type included (only JSON bodies are read).
  const signalsOf = (request: FastifyRequest): Signals => readSignals({
    method: request.method,
    query: request.query,
    body: request.body,
    contentType: request.headers['content-type']
  }, parseOptions)

  if (!fastify.hasReplyDecorator('sse')) await fastify.register(sse, streamDefaults)
  const tracker = streamTracker(fastify)

  fastify.decorate('datastarUrl', () => clientUrl)
  fastify.decorateRequest(kSignals, null)
  fastify.decorateRequest('readSignals', function (this: FastifyRequest & SignalsSlot, schema?: unknown) {
    if (schema === undefined) {
      if (this[kSignals] === null) {
        // The route's schema.signals applies wherever the signals are first read
        // (its preHandler, or a hook or handler that runs before it).
        const routeSchema = this.routeOptions.schema?.signals
        const signals = signalsOf(this)
        this[kSignals] = routeSchema === undefined ? signals : validateSignals(this, signals, routeSchema)
      }
      return this[kSignals]
    }
    return validateSignals(this, signalsOf(this), schema)
  } as FastifyRequest['readSignals'])

  fastify.decorateReply('datastar', function (this: FastifyReply, callbackOrOptions?: StreamCallback<DatastarStream> | DatastarReplyOptions, replyOptions?: DatastarReplyOptions) {
    if (typeof callbackOrOptions === 'function') return tracker.run(this, DatastarStream, callbackOrOptions, replyOptions, streamDefaults)
    return tracker.start(this, DatastarStream, callbackOrOptions, false, streamDefaults)
  } as FastifyReply['datastar'])
  fastify.decorateReply('datastarElements', function (this: FastifyReply, elements: string, responseOptions?: ElementsResponseOptions) {
    return sendOneShot(this, elementsResponse(elements, responseOptions))
  })
  fastify.decorateReply('datastarSignals', function (this: FastifyReply, signals: SignalsPatch, responseOptions?: SignalsResponseOptions) {
    return sendOneShot(this, signalsResponse(signals, responseOptions))
  })
  fastify.decorateReply('datastarScript', function (this: FastifyReply, script: string, responseOptions?: ScriptResponseOptions) {
    return sendOneShot(this, scriptResponse(script, responseOptions))
  })

  // The Datastar client sends `Content-Type: application/json` with an empty
  // body on DELETE; Fastify's JSON parser would answer 400 for it. Such a
  // request has no body to parse, so it is treated as one without content type.
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.method === 'DELETE' && request.headers['datastar-request'] !== undefined && hasEmptyBody(request)) {
      delete request.raw.headers['content-type']
    }
    done()
  })

  // `schema.signals` on a route: validate before any preHandler, so handlers
  // and later hooks read typed, validated signals.
  fastify.addHook('onRoute', (routeOptions) => {
    const schema = routeOptions.schema?.signals
    if (schema === undefined) return
    if (schema === null || (typeof schema !== 'object' && typeof schema !== 'boolean')) {
      throw new FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION(`schema.signals of ${routeOptions.method} ${routeOptions.url}`, 'expected a JSON Schema (for example a TypeBox schema)')
    }
    const attachValidation = routeOptions.attachValidation === true
    const validateRouteSignals: preHandlerHookHandler = function (request, _reply, done) {
      try {
        request.readSignals()
      } catch (error) {
        if (!attachValidation) {
          done(error as Error)
          return
        }
        request.validationError = error as Error & { validation: [], validationContext: string }
      }
      done()
    }
    const existing = routeOptions.preHandler
    routeOptions.preHandler = existing === undefined ? [validateRouteSignals] : [validateRouteSignals, ...(Array.isArray(existing) ? existing : [existing])]
  })

  if (client.file !== undefined) {
    const script = await checkOption('client.file', () => readFile(client.file as string))
    fastify.get(clientUrl, { exposeHeadRoute: true }, (_request, reply) => {
      reply.header('content-type', 'text/javascript; charset=utf-8')
      reply.header('cache-control', 'public, max-age=3600')
      return reply.send(script)
    })
  }
}

/** Runs `read`, turning any failure into a coded plugin-option error naming `name`. */
function checkOption<T> (name: string, read: () => T): T {
  const fail = (error: unknown): never => { throw new FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION(name, (error as Error).message) }
  try {
    const value = read()
    return (value instanceof Promise ? value.catch(fail) : value) as T
  } catch (error) {
    return fail(error)
  }
}

function hasEmptyBody (request: FastifyRequest): boolean {
  const headers = request.headers
  return headers['content-type'] !== undefined && headers['transfer-encoding'] === undefined &&
    (headers['content-length'] === undefined || headers['content-length'] === '0')
}

function sendOneShot (reply: FastifyReply, response: OneShotResponse): FastifyReply {
  reply.headers(response.headers)
  return reply.send(response.body)
}

/**
 * Validates signals with the route's validator compiler (the app's Ajv and its
 * options: coercion, defaults, removeAdditional apply) and fails the way
 * Fastify's own validation does: FST_ERR_VALIDATION, 400, `signals/...` messages.
 */
function validateSignals (request: FastifyRequest, signals: Signals, schema: unknown): any {
  let check: (data: unknown) => Validation
  try {
    check = compileValidator(request, schema, 'signals')
  } catch (error) {
    // A schema that does not compile is the app's mistake.
    throw new FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION('schema.signals', (error as Error).message)
  }
  let result: Validation
  try {
    result = check(signals)
  } catch (error) {
    // A validator that throws on what a client sent refuses the request, not the app.
    request.log.info({ err: error }, 'the signals validator threw')
    throw new FST_ERR_DATASTAR_SIGNALS_UNVALIDATED((error as Error).message)
  }
  if (result.valid) return result.value
  throw Object.assign(new FST_ERR_VALIDATION(result.message), { validation: result.validation, validationContext: 'signals' })
}

/** The Datastar plugin (registers the SSE plugin if it is not there yet). */
export const datastar = fp(datastarPlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-datastar'
})

export default datastar
export { DatastarStream }
export type { ElementsResponseOptions, ScriptResponseOptions, SignalsResponseOptions } from '../src/datastar/one-shot.js'
export type { CustomEventOptions, EventOptions, ExecuteScriptOptions, Namespace, PatchElementsOptions, PatchMode, PatchSignalsOptions, RemoveElementsOptions, SignalsPatch } from '../src/datastar/events.js'
export type { DatastarMethods } from '../src/datastar/methods.js'
export type { Signals } from '../src/datastar/signals.js'
export { DATASTAR_VERSION, datastarUrl, type DatastarUrlOptions } from '../src/datastar/url.js'
