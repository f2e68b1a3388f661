/**
 * The browser module in real Chromium, on a page served with
 * `Content-Security-Policy: script-src 'self'; require-trusted-types-for 'script'`:
 * a page script imports it and calls its functions. The page also checks that
 * the policy holds (eval and innerHTML throw), so the module passing is not
 * the policy being ignored.
 */
import Fastify from 'fastify'
import t from 'tap'
import { browserFunctionSource, renderBrowserModule } from '../../src/rpc/browser-module.js'
import { listen } from '../helpers.js'
import { BROWSER_SKIP, launchChromium } from './helpers.js'

const POLICY = "script-src 'self'; require-trusted-types-for 'script'"

t.test('the browser module runs under script-src \'self\' with Trusted Types required', { skip: BROWSER_SKIP }, async (t) => {
  const { source, hash } = renderBrowserModule(new Map([
    ['add', browserFunctionSource('add', (a: number, b: number) => a + b)],
    ['later', browserFunctionSource('later', { async later (value: string) { return await Promise.resolve(value) } }.later)]
  ]))
  const page = `
    import { functions } from '/rpc/functions.${hash}.js'
    const attempt = (run) => { try { run(); return 'ran' } catch (error) { return error.name } }
    document.body.dataset.result = JSON.stringify({
      add: functions.add(2, 3),
      later: await functions.later('ok'),
      eval: attempt(() => eval('1')),
      innerHTML: attempt(() => { document.body.innerHTML = '<b>x</b>' })
    })
  `
  const app = Fastify()
  t.teardown(() => app.close())
  app.addHook('onSend', async (request, reply) => { reply.header('content-security-policy', POLICY) })
  app.get('/', async (request, reply) => reply.type('text/html').send('<!doctype html><title>rpc</title><script type="module" src="/page.js"></script>'))
  app.get('/page.js', async (request, reply) => reply.type('text/javascript').send(page))
  app.get(`/rpc/functions.${hash}.js`, async (request, reply) => reply.type('text/javascript').send(source))
  const base = await listen(app)

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const tab = await browser.newPage()
  const errors: string[] = []
  tab.on('pageerror', (error) => { errors.push(error.message) })
  await tab.goto(base)
  await tab.locator('body[data-result]').waitFor({ state: 'attached', timeout: 10_000 })
  t.same(JSON.parse((await tab.getAttribute('body', 'data-result'))!), { add: 5, later: 'ok', eval: 'EvalError', innerHTML: 'TypeError' })
  t.same(errors, [], 'no page error')
})
