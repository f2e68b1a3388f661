/** Test pages of a listening RPC app: connected with fast reconnects, closed with the app at teardown. */
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { connectTestPage, type TestPage, type TestPageOptions } from '../../plugins/rpc.js'

/** A function opening pages of the app at `base`; the pages and the app close at the test's teardown. */
export function pagesOf (t: Test, app: FastifyInstance, base: string): (options?: TestPageOptions) => Promise<TestPage> {
  const pages: TestPage[] = []
  t.teardown(async () => {
    for (const page of pages) page.client.close()
    await app.close()
  })
  return async (options = {}) => {
    const page = await connectTestPage(base, { reconnect: { initialDelay: 10, maxDelay: 50 }, ...options })
    pages.push(page)
    return page
  }
}
