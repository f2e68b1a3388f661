/**
 * What a WebSocket message is made of, on the server and in the Node client
 * alike: strings are text, bytes are binary, any other value is JSON text.
 */
import sjson from 'secure-json-parse'
import { FST_ERR_WS_INVALID_MESSAGE } from '../errors.js'

// As Fastify parses request bodies: a `__proto__` or `constructor.prototype` key is an error (one options object for every message).
const REFUSE_PROTOTYPE_KEYS = Object.freeze({ protoAction: 'error', constructorAction: 'error' } as const)

/**
 * Parses JSON text from a peer; throws on bad JSON and on keys that could pollute a prototype.
 * @example parseUntrustedJson('{"n":1}') // { n: 1 }
 */
export function parseUntrustedJson (text: string): unknown {
  return sjson.parse(text, undefined, REFUSE_PROTOTYPE_KEYS)
}

/** What `send()` and `broadcast()` take: text, bytes (binary), or a value sent as JSON text. */
export type OutgoingMessage = string | Buffer | ArrayBuffer | ArrayBufferView | object | number | boolean | null

/** A message ready for ws: its data and whether it goes as a binary frame. */
export interface EncodedMessage {
  data: string | Buffer
  binary: boolean
}

/**
 * Encodes a message for ws. Strings stay strings (ws encodes them as it frames).
 * @example encodeMessage({ n: 1 }) // { data: '{"n":1}', binary: false }
 */
export function encodeMessage (message: OutgoingMessage): EncodedMessage {
  if (typeof message === 'string') return { data: message, binary: false }
  if (Buffer.isBuffer(message)) return { data: message, binary: true }
  if (message instanceof ArrayBuffer) return { data: Buffer.from(message), binary: true }
  if (ArrayBuffer.isView(message)) return { data: Buffer.from(message.buffer, message.byteOffset, message.byteLength), binary: true }
  const json: unknown = JSON.stringify(message)
  if (typeof json !== 'string') throw new FST_ERR_WS_INVALID_MESSAGE(`JSON cannot encode ${typeof message}`)
  return { data: json, binary: false }
}
