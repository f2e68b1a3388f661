// The baseline: a bare `ws` WebSocketServer on node:http; the page sends every
// message back. A round trip sends the text to the one page and waits for it
// (a FIFO of waiting sends: TCP keeps the order); a call to all broadcasts one
// pre-encoded message to every socket and counts the replies.
import { WebSocketServer } from 'ws'
import { closeHttp, listenHttp, serve } from './common.mjs'

const CALL = Buffer.from('[1,2]')

await serve(async () => {
  const server = await listenHttp()
  // perMessageDeflate off (ws's default for servers, spelled out): no variant compresses.
  const wss = new WebSocketServer({ server, path: '/bench', perMessageDeflate: false })
  const waiting = []
  let collect = null
  // The one socket of the round trips (a fresh server each time).
  let one
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const resolve = waiting.shift()
      if (resolve !== undefined) resolve(String(data))
      else collect?.()
    })
  })
  return {
    port: server.address().port,
    count: () => wss.clients.size,
    echo (text) {
      one ??= wss.clients.values().next().value
      return new Promise((resolve) => {
        waiting.push(resolve)
        one.send(text)
      })
    },
    callAll (timeoutMs) {
      const expected = wss.clients.size
      return new Promise((resolve) => {
        let results = 0
        const done = () => {
          clearTimeout(timer)
          collect = null
          resolve({ results, ok: results })
        }
        const timer = setTimeout(done, timeoutMs)
        collect = () => { if (++results === expected) done() }
        for (const ws of wss.clients) ws.send(CALL, { binary: false })
      })
    },
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      await new Promise((resolve) => wss.close(resolve))
      await closeHttp(server)
    }
  }
})
