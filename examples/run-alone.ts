/**
 * What the examples share: their app (Fastify with `fastify-datastar` and the
 * example's routes), the bare page of a one-fragment example, and what each
 * does when it is run alone (`node dist/examples/<name>.js`) rather than
 * imported by the demo or a test.
 */
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import datastar from 'fastify-datastar'

/**
 * Fastify with `fastify-datastar` and the example's routes; with a `page`, it
 * is served at `/` with the Datastar client's URL.
 * @example exampleApp(clock, options, (clientUrl) => fragmentPage('clock', clientUrl, clockFragment))
 */
export async function exampleApp (routes: FastifyPluginAsync, options: FastifyServerOptions = {}, page?: (clientUrl: string) => string): Promise<FastifyInstance> {
  const app = Fastify(options)
  await app.register(datastar)
  await app.register(routes)
  if (page !== undefined) app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page(app.datastarUrl())))
  return app
}

/**
 * A page that loads the Datastar client and shows one fragment under a heading.
 * @example fragmentPage('Counter', app.datastarUrl(), counterFragment)
 */
export function fragmentPage (title: string, clientUrl: string, fragment: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>fastify-datastar ${title.toLowerCase()}</title>
  <script type="module" src="${clientUrl}"></script>
</head>
<body>
  <h1>${title}</h1>
  ${fragment}
</body>
</html>
`
}

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
