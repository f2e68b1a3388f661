/**
 * How a registry's events reach a WebSocket client. A registry encodes each
 * event once in the SSE wire format; a WebSocket client receives it as
 * - `'json'` (default): one text message per event,
 *   `{"event":"datastar-patch-elements","id":"…","data":"elements <div>…"}`,
 *   `data` being the event's data lines joined with LF (what an EventSource's
 *   MessageEvent holds), `id` present only when the event has one;
 * - `'sse'`: the SSE text itself, one text message per write, for clients that
 *   already parse SSE (a Datastar-aware script can feed it to its parser).
 */
import { SSEParser } from '../sse/parser.js'

/** The format of registry events on a WebSocket. */
export type Envelope = 'json' | 'sse'

// One broadcast hands the same bytes to every subscriber: convert them once.
// The source is kept as a copy so that a caller reusing one Buffer with new
// content is not answered from the cache (comparing ~200 bytes is far cheaper
// than parsing and encoding them again).
let lastSource: string | Buffer | undefined
let lastEnvelope: Envelope | undefined
let lastMessages: Buffer[] = []

/**
 * The WebSocket text messages that carry SSE-encoded events in an envelope.
 * The result of the last call is reused when the same bytes come again.
 * @example envelopeMessages('event: tick\ndata: 1\n\n', 'json') // [Buffer '{"event":"tick","data":"1"}']
 */
export function envelopeMessages (encoded: string | Buffer, envelope: Envelope): Buffer[] {
  if (envelope === lastEnvelope && isLastSource(encoded)) return lastMessages
  const messages = envelope === 'sse' ? [typeof encoded === 'string' ? Buffer.from(encoded) : encoded] : jsonMessages(encoded)
  lastSource = typeof encoded === 'string' ? encoded : Buffer.from(encoded)
  lastEnvelope = envelope
  lastMessages = messages
  return messages
}

function isLastSource (encoded: string | Buffer): boolean {
  if (typeof encoded === 'string' || typeof lastSource === 'string' || lastSource === undefined) return encoded === lastSource
  return lastSource.equals(encoded)
}

function jsonMessages (encoded: string | Buffer): Buffer[] {
  const text = typeof encoded === 'string' ? encoded : encoded.toString('utf8')
  return new SSEParser().push(text).map(({ event, id, data }) =>
    Buffer.from(JSON.stringify(id === '' ? { event, data } : { event, id, data })))
}
