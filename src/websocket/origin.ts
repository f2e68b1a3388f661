/**
 * The Origin check of a WebSocket upgrade, against cross-site WebSocket
 * hijacking: a browser sends the page's Origin with every upgrade and never
 * lets a page forge it, while cookies ride along whatever the origin.
 */

/**
 * Which browser origins may open a WebSocket: `'same-origin'` (the default:
 * the Origin's host must be the request's Host), a list of origins
 * (`https://app.example.com`), a function, or `false` to accept every origin.
 * Requests without an Origin header (not from a browser) are always accepted.
 */
export type OriginPolicy = 'same-origin' | false | readonly string[] | ((origin: string) => boolean)

/**
 * Tells whether an upgrade with this Origin and Host headers passes the policy.
 * @example isOriginAllowed('https://evil.test', 'app.test', 'same-origin') // false
 */
export function isOriginAllowed (origin: string | undefined, host: string | undefined, policy: OriginPolicy): boolean {
  if (origin === undefined || policy === false) return true
  if (policy === 'same-origin') return host !== undefined && originHost(origin) === host.toLowerCase()
  // Strictly true: a function that returns a promise (an async one) does not allow anything.
  if (typeof policy === 'function') return policy(origin) === true
  return policy.includes(origin.toLowerCase())
}

function originHost (origin: string): string | undefined {
  try {
    // URL drops the default port (https://a:443 → a), as Host does.
    return new URL(origin).host
  } catch {
    return undefined
  }
}
