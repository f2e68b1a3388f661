/**
 * The Origin check of a WebSocket upgrade, against cross-site WebSocket
 * hijacking: a browser sends the page's Origin with every upgrade and never
 * lets a page forge it, while cookies ride along whatever the origin.
 */

/**
 * Which browser origins may open a WebSocket: `'same-origin'` (the default:
 * the Origin must be the request's own scheme, host and port), a list of origins
 * (`https://app.example.com`), a function, or `false` to accept every origin.
 * Requests without an Origin header (not from a browser) are always accepted.
 */
export type OriginPolicy = 'same-origin' | false | readonly string[] | ((origin: string) => boolean)

/**
 * Tells whether an upgrade with this Origin header passes the policy.
 * `serverOrigin` is the request's own origin, `scheme://host[:port]` (behind
 * a proxy, the forwarded scheme and host): an `https://` page may not open a
 * plain `ws://` connection to the same host, nor the reverse.
 * @example isOriginAllowed('https://evil.test', 'https://app.test', 'same-origin') // false
 */
export function isOriginAllowed (origin: string | undefined, serverOrigin: string | undefined, policy: OriginPolicy): boolean {
  if (origin === undefined || policy === false) return true
  if (policy === 'same-origin') {
    const own = serverOrigin === undefined ? undefined : serialized(serverOrigin)
    return own !== undefined && serialized(origin) === own
  }
  // Strictly true: a function that returns a promise (an async one) does not allow anything.
  if (typeof policy === 'function') return policy(origin) === true
  return policy.includes(origin.toLowerCase())
}

// The origin as browsers serialize it: lowercase scheme and host, no default port (https://a:443 → https://a).
function serialized (origin: string): string | undefined {
  try {
    const { origin: value } = new URL(origin)
    // Opaque origins ('null', file:) serialize as 'null' and match nothing.
    return value === 'null' ? undefined : value
  } catch {
    return undefined
  }
}
