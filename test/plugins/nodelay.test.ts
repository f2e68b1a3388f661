import t from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import http2 from 'node:http2'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { nodelay } from '../../plugins/index.js'

t.test('TCP_NODELAY is set once per real socket, across keep-alive requests', async (t) => {
  const calls = new Map<Socket, boolean[]>()
  // A server that leaves Nagle on (noDelay: false), with setNoDelay observed per socket.
  const app = Fastify({
    serverFactory: (handler) => {
      const server = http.createServer({ noDelay: false }, handler)
      server.on('connection', (socket: Socket) => {
        const seen: boolean[] = []
        calls.set(socket, seen)
        const setNoDelay = socket.setNoDelay.bind(socket)
        socket.setNoDelay = (noDelay?: boolean) => {
          seen.push(noDelay ?? true)
          return setNoDelay(noDelay)
        }
      })
      return server
    }
  })
  await app.register(nodelay)
  app.get('/', async () => 'ok')
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) {
    const request = http.get({ host: '127.0.0.1', port, path: '/', agent })
    const [response] = await once(request, 'response') as [http.IncomingMessage]
    response.resume()
    await once(response, 'end')
  }
  t.equal(calls.size, 1, 'the three requests shared one socket')
  t.same([...calls.values()][0], [true], 'setNoDelay(true) was called exactly once on it')
})

t.test('no socket to set (inject) or one that must not be touched (HTTP/2) is fine', async (t) => {
  const app = Fastify()
  await app.register(nodelay)
  app.get('/', async () => 'ok')
  t.teardown(() => app.close())
  const response = await app.inject('/')
  t.equal(response.statusCode, 200)

  const h2 = Fastify({ http2: true })
  await h2.register(nodelay)
  h2.get('/', async () => 'ok')
  t.teardown(() => h2.close())
  await h2.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h2.server.address() as { port: number }
  const session = http2.connect(`http://127.0.0.1:${port}`)
  t.teardown(() => session.close())
  const request = session.request({ ':path': '/' })
  const [headers] = await once(request, 'response') as [http2.IncomingHttpHeaders]
  t.equal(headers[':status'], 200)
  request.resume()
  await once(request, 'end')
})
