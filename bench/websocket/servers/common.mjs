// What every server of bench/websocket shares: the message each broadcast
// sends. The burst of broadcasts and the IPC protocol with run.mjs are
// bench/common/server.mjs's. A server module only says how it accepts a
// WebSocket client and how it broadcasts one text message to all of them:
// `broadcast(text)`, which may return how many clients it handed it to.
import process from 'node:process'
import { closeHttp, listenHttp, serve as serveBench, until } from '../../common/server.mjs'

export { closeHttp, listenHttp, until }

/** Size of one message (the text payload, before any framing). */
export const PAYLOAD_BYTES = Number(process.env.WS_PAYLOAD_BYTES ?? 200)

/**
 * The text of one message: `@<round>,<seq>,<burst start>,<send time>,` then
 * padding up to PAYLOAD_BYTES. Times are µs of the monotonic clock
 * (process.hrtime), which every process of this machine shares. No quotes or
 * backslashes, so socket.io's JSON framing adds only its own bytes around it.
 */
export function payload (round, seq, q, t) {
  const head = `@${round},${seq},${q},${t},`
  return head + 'x'.repeat(Math.max(0, PAYLOAD_BYTES - head.length))
}

/**
 * Runs a bench server: `start()` listens on 127.0.0.1 and resolves with
 * `{ port, count(), broadcast(text), close() }` (bench/common/server.mjs).
 */
export const serve = (start) => serveBench(start, payload)
