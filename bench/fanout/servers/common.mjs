// What every server of bench/fanout shares: the event each publish sends, and
// the node:http helpers. The burst of publishes and the IPC protocol with
// run.mjs are bench/common/server.mjs's. A server module only says how it
// accepts an SSE GET on /sse and how it broadcasts one event:
// `broadcast(json, seq)` gets the signals JSON and the event's sequence number.
import http from 'node:http'
import process from 'node:process'
import { closeHttp, listenHttp, serve as serveBench } from '../../common/server.mjs'

export { closeHttp }

/** The Datastar event type every server sends. */
export const EVENT = 'datastar-patch-signals'

/** Size of one event on the wire, as the raw server encodes it (the others are within a few bytes). */
export const EVENT_BYTES = Number(process.env.FANOUT_EVENT_BYTES ?? 200)

/**
 * The signals JSON of one event: round, sequence number, the time the burst
 * began `q` and the event's send time `t` (µs of the monotonic clock every
 * process shares), and padding up to EVENT_BYTES.
 */
export function signalsJson (round, seq, q, t) {
  const bare = `{"r":${round},"s":${seq},"q":${q},"t":${t},"pad":""}`
  // The raw event: "id: <seq>\nevent: <EVENT>\ndata: signals <json>\n\n".
  const framing = `id: ${seq}\nevent: ${EVENT}\ndata: signals \n\n`.length
  const pad = Math.max(0, EVENT_BYTES - framing - bare.length)
  return `{"r":${round},"s":${seq},"q":${q},"t":${t},"pad":"${'x'.repeat(pad)}"}`
}

/**
 * Runs a bench server: `start()` listens on 127.0.0.1 and resolves with
 * `{ port, count(), broadcast(json, seq), close() }` (bench/common/server.mjs).
 */
export const serve = (start) => serveBench(start, signalsJson)

/** Writes and flushes the head of an event stream, the first step of the node:http servers. */
export function writeStreamHead (res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive'
  })
  res.flushHeaders()
}

/** A node:http server on loopback that hands GET /sse to `onStream(req, res)` and answers 404 elsewhere. */
export function listenForStreams (onStream) {
  return listenHttp(http.createServer((req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end()
      return
    }
    onStream(req, res)
  }))
}
