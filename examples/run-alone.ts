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

/**
 * Listens with two nodes of an example on 127.0.0.1 (ports `$PORT_A` and
 * `$PORT_B`, or `ports`), logs where `path` is on each, and closes both on
 * SIGINT or SIGTERM.
 * @example await serveTwoNodes(await buildChatNodes({ redis }), [3007, 3009], 'Chat example on two nodes', '/chat')
 */
export async function serveTwoNodes (nodes: { a: FastifyInstance, b: FastifyInstance }, ports: [number, number], what: string, path: string): Promise<void> {
  const { a, b } = nodes
  const addressA = await a.listen({ host: '127.0.0.1', port: Number(process.env.PORT_A ?? ports[0]) })
  const addressB = await b.listen({ host: '127.0.0.1', port: Number(process.env.PORT_B ?? ports[1]) })
  a.log.info(`${what}: node A at ${addressA}${path}, node B at ${addressB}${path}`)
  const stop = (): void => {
    Promise.all([a.close(), b.close()]).then(() => process.exit(0), (error: Error) => {
      a.log.error(error)
      process.exit(1)
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

/**
 * Builds node A, then node B; A is closed again if B cannot be built.
 * @example const { a, b } = await buildPair((name) => buildNode(name, options))
 */
export async function buildPair (build: (name: 'A' | 'B') => Promise<FastifyInstance>): Promise<{ a: FastifyInstance, b: FastifyInstance }> {
  const a = await build('A')
  try {
    return { a, b: await build('B') }
  } catch (error) {
    await a.close()
    throw error
  }
}
