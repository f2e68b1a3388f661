/**
 * The SSE wire format (WHATWG HTML, "Server-sent events"): turning an event into
 * the exact text written to the socket. Everything here is pure, so an event can
 * be encoded once and its bytes handed to many streams.
 */
import {
  FST_ERR_SSE_INVALID_DATA,
  FST_ERR_SSE_INVALID_FIELD,
  FST_ERR_SSE_INVALID_RETRY
} from '../errors.js'

/** One server-sent event. */
export interface SSEMessage {
  /** Event type (the `event:` field); a single line. */
  event?: string
  /** Payload: a string (split on CRLF, CR and LF) or one entry per `data:` line. */
  data?: string | readonly string[]
  /** Event id (the `id:` field); a single line without NUL. */
  id?: string
  /** Reconnection delay in milliseconds (the `retry:` field). */
  retry?: number
}

/** Line terminators of the SSE grammar: CRLF, lone CR, lone LF. */
const LINE_BREAK = /\r\n|\r|\n/
const HAS_LINE_BREAK = /[\r\n]/

/**
 * Splits text on every line terminator the SSE grammar knows (CRLF, CR, LF).
 * An empty string gives one empty line, so it is still sent.
 * @example splitLines('a\r\nb\rc') // ['a', 'b', 'c']
 */
export function splitLines (text: string): string[] {
  return text.split(LINE_BREAK)
}

/**
 * Throws when a value meant for a single-line field holds CR or LF, which would
 * let it start a field of its own (event-stream injection).
 * @example assertSingleLine('event', 'ping')
 */
export function assertSingleLine (field: string, value: string): void {
  if (typeof value !== 'string' || HAS_LINE_BREAK.test(value)) throw new FST_ERR_SSE_INVALID_FIELD(field)
}

/**
 * Encodes one event as the text to write, ending with the blank line that
 * dispatches it. Throws a coded error, before anything is written, when a
 * field could inject others.
 * @example encodeEvent({ event: 'tick', data: '1\n2', id: '7' })
 * // 'event: tick\nid: 7\ndata: 1\ndata: 2\n\n'
 */
export function encodeEvent (message: SSEMessage): string {
  let text = encodeEventHead(message.event, message.id, message.retry)
  const data = message.data
  if (typeof data === 'string') {
    text += encodeDataLines('', data)
  } else if (Array.isArray(data)) {
    for (const entry of data) {
      if (typeof entry !== 'string') throw new FST_ERR_SSE_INVALID_DATA(typeof entry)
      text += encodeDataLines('', entry)
    }
  } else if (data !== undefined) {
    throw new FST_ERR_SSE_INVALID_DATA(typeof data)
  }
  return text + '\n'
}

/**
 * Encodes the `event:`, `id:` and `retry:` fields that open an event (each
 * optional), refusing values that could inject other fields.
 * @example encodeEventHead('datastar-patch-signals', 'e1', 2000)
 */
export function encodeEventHead (event?: string, id?: string, retry?: number): string {
  let text = ''
  if (event !== undefined) {
    assertSingleLine('event', event)
    text += 'event: ' + event + '\n'
  }
  if (id !== undefined) {
    // The spec ignores an id that contains NUL, which would silently break resumption.
    assertSingleLine('id', id)
    if (id.includes('\0')) throw new FST_ERR_SSE_INVALID_FIELD('id')
    text += 'id: ' + id + '\n'
  }
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) throw new FST_ERR_SSE_INVALID_RETRY(String(retry))
    text += 'retry: ' + retry + '\n'
  }
  return text
}

/**
 * Encodes `content` as `data:` lines, each starting with `prefix` (Datastar's
 * `elements `, `signals `, ...). Every line of the content gets its own `data:`
 * line, an empty one included.
 * @example encodeDataLines('elements ', '<p>\n</p>') // 'data: elements <p>\ndata: elements </p>\n'
 */
export function encodeDataLines (prefix: string, content: string): string {
  if (!HAS_LINE_BREAK.test(content)) return 'data: ' + prefix + content + '\n'
  let text = ''
  for (const line of splitLines(content)) text += 'data: ' + prefix + line + '\n'
  return text
}

/**
 * Encodes a comment, which clients ignore; used for keep-alive. Multi-line
 * text becomes one comment line per line, so it cannot inject fields either.
 * @example encodeComment('keep-alive') // ': keep-alive\n\n'
 */
export function encodeComment (text = ''): string {
  if (text === '') return ':\n\n'
  let out = ''
  for (const line of splitLines(text)) out += ': ' + line + '\n'
  return out + '\n'
}
