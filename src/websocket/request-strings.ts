/**
 * What a long-lived connection keeps of its upgrade request's strings. Node's
 * parser makes new strings for the url and every header name and value of
 * every request, and a WebSocket client keeps its request for its whole life:
 * ten thousand idle browsers hold ten thousand copies of the same User-Agent,
 * Host, `Upgrade: websocket`... V8 keeps one copy of each property name, so a
 * string used as one comes back as the copy every request can share.
 */
import type { IncomingMessage } from 'node:http'

// V8 hashes a string by its text up to this length (longer ones by length alone: they would all collide).
const MAX_SHARED_LENGTH = 16_383

// Null-prototype objects keep their properties in a dictionary: a name added
// here leaves no hidden-class transition behind (a `{ [value]: 0 }` literal
// would, for every distinct value, on the map every `{}` starts from).
const scratch: Record<string, number> = Object.create(null)

/**
 * The one copy V8 keeps of `value` as a property name (equal to `value`).
 * Index-like strings ('13') come back equal but not shared.
 * @example sharedString(request.headers['user-agent'])
 */
export function sharedString (value: string): string {
  if (value.length > MAX_SHARED_LENGTH) return value
  scratch[value] = 0
  const shared = Object.keys(scratch)[0] ?? value
  delete scratch[value]
  return shared
}

/**
 * Replaces the strings a request keeps (its url, HTTP version and headers)
 * with equal ones shared by every request: values in `headers` and
 * `rawHeaders`, and names in `rawHeaders`, which become the lowercased names
 * that key `headers` (every name and value stays, in order; only the names'
 * case changes). Call it once nothing needs the names as they were sent (the
 * plugin does after `data()`).
 * @example shareRequestStrings(request.raw)
 */
export function shareRequestStrings (request: IncomingMessage): void {
  if (typeof request.url === 'string') request.url = sharedString(request.url)
  if (typeof request.httpVersion === 'string') request.httpVersion = sharedString(request.httpVersion)
  const headers = request.headers as Record<string, string | string[] | undefined>
  const names = Object.keys(headers)
  for (const name of names) {
    const value = headers[name]
    if (typeof value === 'string') headers[name] = sharedString(value)
  }
  const raw = request.rawHeaders
  // A request made by injectWS has no list.
  if (!Array.isArray(raw)) return
  for (let i = 0; i + 1 < raw.length; i += 2) {
    // The same shared string that keys `headers`.
    raw[i] = sharedString(raw[i]!.toLowerCase())
    raw[i + 1] = sharedString(raw[i + 1]!)
  }
}
