/**
 * The chat example in real Chromium: two pages join /bongo under two names,
 * talk to each other through the server, and one leaves. The pages use the
 * browser's own WebSocket, so this also covers what a browser sends with the
 * upgrade (the Origin the same-origin check reads, the query with the name).
 * Waits are Playwright's, bounded; nothing is timed.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { buildChatApp } from '../../examples/chat.js'
import { listen } from '../helpers.js'
import { BROWSER_SKIP, launchChromium } from './helpers.js'

/** The bound of every wait (a failure message, never a measurement). */
const LIMIT = 10_000

/** Picks a room and a name and joins; resolves once the page says it is in. */
async function joinRoom (page: Page, room: string, name: string): Promise<void> {
  await page.selectOption('#room', room)
  await page.fill('#name', name)
  await page.click('#join-button')
  await page.locator('#status').filter({ hasText: `In /${room} as ${name}.` }).waitFor({ timeout: LIMIT })
}

/** Says something from the page. */
async function say (page: Page, text: string): Promise<void> {
  await page.fill('#text', text)
  await page.click('#say-button')
}

/** Waits for a line of the page's log, by its exact text. */
async function line (page: Page, text: string): Promise<void> {
  await page.locator('#log li').filter({ hasText: text }).last().waitFor({ timeout: LIMIT })
}

t.test('two Chromium pages chat in /bongo: say, reply, leave', { skip: BROWSER_SKIP }, async (t) => {
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const app = await buildChatApp()
  t.teardown(() => app.close())
  const base = await listen(app)

  const alice = await browser.newPage()
  const bob = await browser.newPage()
  const errors: string[] = []
  for (const page of [alice, bob]) page.on('pageerror', (error) => { errors.push(error.message) })

  await alice.goto(`${base}/chat`)
  await bob.goto(`${base}/chat`)

  await joinRoom(alice, 'bongo', 'alice')
  await line(alice, 'alice joined')
  await joinRoom(bob, 'bongo', 'bob')
  await line(bob, 'bob joined')
  await line(alice, 'bob joined')

  // Alice speaks, Bob sees it; markup in a message is shown as text.
  await say(alice, 'Hello <img src=x onerror="window.pwned=1"> bob')
  await line(bob, 'alice: Hello <img src=x onerror="window.pwned=1"> bob')
  t.equal(await bob.locator('#log img').count(), 0, 'no element was made from the message')
  t.equal(await bob.evaluate(() => (globalThis as { pwned?: unknown }).pwned), undefined, 'no script ran')

  // Bob replies, Alice sees it.
  await say(bob, 'hi alice')
  await line(alice, 'bob: hi alice')
  await line(bob, 'bob: hi alice')

  // Both logs hold the room's history in the same order.
  const history = ['alice joined', 'bob joined', 'alice: Hello <img src=x onerror="window.pwned=1"> bob', 'bob: hi alice']
  t.same(await alice.locator('#log li').allTextContents(), history, 'alice\'s log')
  t.same(await bob.locator('#log li').allTextContents(), history.slice(1), 'bob\'s log, from his join')

  // Bob leaves: Alice sees it, Bob's page can join again.
  await bob.click('#leave')
  await bob.locator('#status').filter({ hasText: 'Left /bongo.' }).waitFor({ timeout: LIMIT })
  await line(alice, 'bob left')
  t.equal(await bob.isEnabled('#join-button'), true, 'bob can join again')
  t.equal(await bob.isDisabled('#say-button'), true, 'and cannot say anything until then')

  t.same(errors, [], 'no page error')
  await alice.close()
  await bob.close()
})
