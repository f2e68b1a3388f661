/**
 * A clock: one long-lived Datastar stream.
 *
 * `GET /clock` opens an event stream and patches `<div id="clock">` with the
 * server's time every second. The stream stays open until the browser leaves
 * (or the server closes); `sse.onClose()` then stops the timer, so nothing
 * outlives its client.
 *
 * Run it alone: `npm run build && node dist/examples/clock.js`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import { exampleApp, fragmentPage, isMain, serveAlone } from './run-alone.js'

/**
 * The clock's markup. `data-init` sits on a wrapper, not on `#clock` itself:
 * the patches replace `#clock`, and the element that opened the stream stays.
 */
export const clockFragment = `<div data-init="@get('/clock')">
  <div id="clock">--:--:--</div>
</div>`

/** The time as the clock shows it. */
function now (): string {
  return new Date().toLocaleTimeString('en-GB', { hour12: false })
}

/** The clock's route; register `fastify-datastar` on the instance first. */
export const clock: FastifyPluginAsync = async (fastify) => {
  fastify.get('/clock', async (_request, reply) => {
    // The head goes out at once; the stream lives on after the handler returns.
    const sse = reply.datastar()
    const tick = (): void => { sse.patchElements(`<div id="clock">${now()}</div>`) }
    tick()
    const timer = setInterval(tick, 1000)
    sse.onClose(() => clearInterval(timer))
  })
}

/** The clock app: `fastify-datastar`, the clock's route and a page at `/`. */
export async function buildClockApp (options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(clock, options, (clientUrl) => fragmentPage('Clock', clientUrl, clockFragment))
}

if (isMain(import.meta.url)) await serveAlone(() => buildClockApp({ logger: true }), 3002, 'clock example', '/')
