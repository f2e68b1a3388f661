/**
 * What every example does when it is run alone (`node dist/examples/<name>.js`)
 * rather than imported by the demo or a test.
 */
import { pathToFileURL } from 'node:url'
import type { FastifyInstance } from 'fastify'

/**
 * True when the module at `moduleUrl` is the program node was started with.
 * @example if (isMain(import.meta.url)) await serveAlone(...)
 */
export function isMain (moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href
}

/**
 * Builds the app and listens on 127.0.0.1, port `$PORT` or `port`, then logs where `path` is.
 * @example await serveAlone(() => buildChatApp({ logger: true }), 3007, 'Chat example', '/chat')
 */
export async function serveAlone (build: () => FastifyInstance | Promise<FastifyInstance>, port: number, what: string, path: string): Promise<FastifyInstance> {
  const app = await build()
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? port) })
  app.log.info(`${what} at ${address}${path}`)
  return app
}
