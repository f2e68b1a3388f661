import { test } from 'tap'
import { isOriginAllowed } from '../../src/websocket/origin.js'

test('same-origin: the Origin must be the request\'s own scheme, host and port', async (t) => {
  t.ok(isOriginAllowed('http://app.test:3000', 'http://app.test:3000', 'same-origin'))
  t.ok(isOriginAllowed('https://App.Test', 'https://app.test', 'same-origin'), 'hosts compare case-insensitively')
  t.ok(isOriginAllowed('https://app.test:443', 'https://app.test', 'same-origin'), 'a default port is no port')
  t.ok(isOriginAllowed('https://app.test', 'https://app.test:443', 'same-origin'), 'on either side')
  t.notOk(isOriginAllowed('https://evil.test', 'https://app.test', 'same-origin'))
  t.notOk(isOriginAllowed('http://app.test:3001', 'http://app.test:3000', 'same-origin'), 'another port is another origin')
  t.notOk(isOriginAllowed('https://app.test', 'http://app.test', 'same-origin'), 'an https page may not open a plain ws:// connection')
  t.notOk(isOriginAllowed('http://app.test', 'https://app.test', 'same-origin'), 'nor an http page a wss:// one')
  t.notOk(isOriginAllowed('null', 'http://app.test', 'same-origin'), 'an opaque origin (sandboxed iframe, file:) is refused')
  t.notOk(isOriginAllowed('https://app.test', undefined, 'same-origin'), 'no Host: nothing to compare with')
})

test('no Origin header (not a browser) is always allowed; false allows every origin', async (t) => {
  t.ok(isOriginAllowed(undefined, 'https://app.test', 'same-origin'))
  t.ok(isOriginAllowed(undefined, 'https://app.test', ['https://a.test']))
  t.ok(isOriginAllowed('https://evil.test', 'https://app.test', false))
})

test('a list of origins and a function', async (t) => {
  t.ok(isOriginAllowed('https://a.test', 'https://app.test', ['https://a.test']))
  t.ok(isOriginAllowed('HTTPS://A.TEST', 'https://app.test', ['https://a.test']))
  t.notOk(isOriginAllowed('https://b.test', 'https://app.test', ['https://a.test']))
  t.notOk(isOriginAllowed('http://a.test', 'https://app.test', ['https://a.test']), 'the scheme is part of the origin')
  t.ok(isOriginAllowed('https://x.a.test', 'https://app.test', (origin) => origin.endsWith('.a.test')))
})

test('a function policy allows only when it returns true (an async function allows nothing)', async (t) => {
  t.notOk(isOriginAllowed('https://a.test', 'https://app.test', (async () => true) as unknown as (origin: string) => boolean))
  t.notOk(isOriginAllowed('https://a.test', 'https://app.test', (() => 'yes') as unknown as (origin: string) => boolean))
})
