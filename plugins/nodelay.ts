/**
 * `fastify-datastar/nodelay`: turns Nagle's algorithm off (TCP_NODELAY) on
 * every connection, once per socket, so small events leave at once instead of
 * waiting to be batched. Node's HTTP server already does this unless created
 * with `noDelay: false` or through a custom `serverFactory`; this hook makes it
 * hold whatever the server.
 *
 * @example await app.register(nodelay)
 */
import fp from 'fastify-plugin'
import type { FastifyPluginCallback } from 'fastify'

import { kNoDelay } from '../src/symbols.js'

interface MarkedSocket {
  setNoDelay?: (noDelay?: boolean) => unknown
  [kNoDelay]?: true
}

const nodelayPlugin: FastifyPluginCallback = (fastify, _options, done) => {
  fastify.addHook('onRequest', (request, _reply, hookDone) => {
    const raw = request.raw
    // HTTP/2 multiplexes streams over a session socket that cannot be touched
    // (ERR_HTTP2_NO_SOCKET_MANIPULATION); inject has a fake socket with no setNoDelay.
    if (raw.httpVersionMajor === 1) {
      const socket = raw.socket as MarkedSocket | null | undefined
      if (socket != null && socket[kNoDelay] !== true && typeof socket.setNoDelay === 'function') {
        // Keep-alive reuses sockets: mark it so later requests skip the syscall.
        socket.setNoDelay(true)
        socket[kNoDelay] = true
      }
    }
    hookDone()
  })
  done()
}

/** The TCP_NODELAY plugin (registered by the umbrella plugin too). */
export const nodelay = fp(nodelayPlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-nodelay'
})

export default nodelay
