/**
 * Real-browser tests drive Debian's Chromium through playwright-core (never a
 * downloaded browser). `.ci/run` installs Chromium when missing; elsewhere a
 * missing browser fails the test unless FASTIFY_DATASTAR_SKIP_BROWSER is set.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Why browser tests skip here, or false when they run. */
export const BROWSER_SKIP: string | false = process.env.FASTIFY_DATASTAR_SKIP_BROWSER !== undefined
  ? 'FASTIFY_DATASTAR_SKIP_BROWSER is set'
  : false

/** Launches headless Chromium with the flags this closed network needs. */
export async function launchChromium (): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium, set CHROMIUM_PATH, or set FASTIFY_DATASTAR_SKIP_BROWSER=1`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}
