/**
 * Subprotocol selection: the server picks, in its own order of preference,
 * one of the subprotocols the client offered. Never the client's first one
 * blindly (which is what ws does without a `handleProtocols` hook).
 */

/**
 * Parses a `Sec-WebSocket-Protocol` header into the offered subprotocols.
 * @example offeredProtocols('chat.v2, chat.v1') // ['chat.v2', 'chat.v1']
 */
export function offeredProtocols (header: string | string[] | undefined): string[] {
  if (header === undefined) return []
  const value = Array.isArray(header) ? header.join(',') : header
  return value.split(',').map((token) => token.trim()).filter((token) => token !== '')
}

/**
 * The first of `supported` that the client offered, or undefined.
 * @example selectProtocol(['chat.v1', 'chat.v2'], ['chat.v2', 'chat.v1']) // 'chat.v2'
 */
export function selectProtocol (offered: readonly string[], supported: readonly string[]): string | undefined {
  return supported.find((protocol) => offered.includes(protocol))
}

// RFC 6455 §4.1: a subprotocol name is an HTTP token (RFC 9110 §5.6.2).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Whether `value` can name a subprotocol (an HTTP token); server and client check their lists with it.
 * @example isProtocolName('chat.v1') // true; isProtocolName('chat v1') // false
 */
export function isProtocolName (value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value)
}
