/**
 * The `/test` endpoint of the official Datastar SDK conformance suite
 * (starfederation/datastar, sdk/tests): it reads the signals, takes their
 * `events` array and calls the SDK method each entry names, with the entry's
 * other fields as arguments and options.
 *
 * Run it for the official runner (after `npm run build`):
 *   node dist/examples/conformance.js   # PORT=7331 by default
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import datastar, { type DatastarStream } from 'fastify-datastar'
import type { ExecuteScriptOptions, PatchElementsOptions, PatchSignalsOptions } from 'fastify-datastar/datastar'
import { isMain, serveAlone } from './run-alone.js'

/** One entry of the `events` array: the method's name, content and options. */
interface TestEvent extends PatchElementsOptions, PatchSignalsOptions, ExecuteScriptOptions {
  type: string
  elements?: string
  signals?: Record<string, unknown>
  'signals-raw'?: string
  script?: string
}

type Call = (sse: DatastarStream, event: TestEvent) => Promise<boolean>

const calls: Record<string, Call> = {
  patchElements: (sse, { type, elements, ...options }) => sse.patchElements(elements ?? '', options),
  // `signals-raw` is JSON text the SDK must send as it is (it may span lines).
  patchSignals: (sse, { type, signals, 'signals-raw': raw, ...options }) => sse.patchSignals(raw ?? signals ?? {}, options),
  executeScript: (sse, { type, script, ...options }) => sse.executeScript(script ?? '', options)
}

function badRequest (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 })
}

/** GET and POST `/test`, as the conformance runner calls them. */
export const conformance: FastifyPluginAsync = async (fastify) => {
  fastify.route({
    method: ['GET', 'POST'],
    url: '/test',
    handler: async (request, reply) => {
      const { events } = request.readSignals()
      if (!Array.isArray(events)) throw badRequest('signals must hold an "events" array')
      // Check every entry before the stream starts, so a bad one is a plain 400.
      for (const event of events as TestEvent[]) {
        if (typeof event?.type !== 'string' || !Object.hasOwn(calls, event.type)) {
          throw badRequest(`unknown event type ${JSON.stringify(event?.type)}`)
        }
      }
      return reply.datastar(async (sse) => {
        for (const event of events as TestEvent[]) await (calls[event.type] as Call)(sse, event)
      })
    }
  })
}

/** A Fastify app with the umbrella plugin and the `/test` routes. */
export function buildConformanceApp (options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify(options)
  app.register(datastar)
  app.register(conformance)
  return app
}

if (isMain(import.meta.url)) await serveAlone(() => buildConformanceApp({ logger: true }), 7331, 'Datastar SDK conformance endpoint', '/test')
