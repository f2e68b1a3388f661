/**
 * Reading the signals a Datastar client sends: the `datastar` query parameter
 * on GET (and DELETE), the JSON body otherwise. Only JSON is read, decoded
 * once, and its depth is bounded before anything walks it. Prototype-poisoning
 * keys are handled with the same actions as Fastify's JSON body parser.
 */
import secureJson from 'secure-json-parse'
import {
  FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE,
  FST_ERR_DATASTAR_SIGNALS_DUPLICATE,
  FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY,
  FST_ERR_DATASTAR_SIGNALS_INVALID_JSON,
  FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT,
  FST_ERR_DATASTAR_SIGNALS_TOO_DEEP
} from '../errors.js'

/** Signals as sent by the client: a JSON object. */
export type Signals = Record<string, unknown>

/** What to do with `__proto__` / `constructor.prototype` keys (Fastify's `onProtoPoisoning` values). */
export type PoisoningAction = 'error' | 'remove' | 'ignore'

/** Parsing options, mirroring Fastify's `onProtoPoisoning` and `onConstructorPoisoning`. */
export interface ParseSignalsOptions {
  /** Default 'error', as in Fastify. */
  protoAction?: PoisoningAction
  /** Default 'error', as in Fastify. */
  constructorAction?: PoisoningAction
  /** Deepest nesting accepted (the signals object itself is level 1). Default 64. */
  maxDepth?: number
}

/** Default bound on the nesting of signals. */
export const DEFAULT_MAX_SIGNALS_DEPTH = 64

/** The parts of a request signals come from. */
export interface SignalsSource {
  method: string
  /** The parsed query string. */
  query: unknown
  /**
   * The body, if any: with a JSON `contentType`, the value a JSON body parser
   * made of it (Fastify's); otherwise raw JSON text (a string or Buffer) or
   * an object already parsed.
   */
  body: unknown
  /**
   * The request's Content-Type. When given, a body of any other type than
   * JSON is refused (415), and a JSON body is taken as parsed already, so it
   * is never decoded twice.
   */
  contentType?: string | undefined
}

/** The query parameter that carries signals on GET and DELETE. */
export const SIGNALS_QUERY_PARAMETER = 'datastar'

/**
 * Parses signals JSON text. Empty text means no signals (`{}`); anything but a
 * JSON object is a 400 with a coded error.
 * @example parseSignals('{"count":1}') // { count: 1 }
 */
export function parseSignals (text: string, options: ParseSignalsOptions = {}): Signals {
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new FST_ERR_DATASTAR_SIGNALS_INVALID_JSON((error as Error).message)
  }
  // Always scanned: a key written with JSON escapes ("\u005f_proto__") is a prototype key too.
  return checkSignals(value, options, true)
}

/**
 * Reads signals from a request: GET and HEAD from the `datastar` query
 * parameter, DELETE from it or else the body, other methods (POST, PUT, PATCH,
 * QUERY...) from the body. With its `contentType`, only a JSON body is read,
 * as the value its parser made. No body is no signals (`{}`); `null` or any
 * other non-object is a 400, like the query parameter's.
 * @example readSignals({ method: 'GET', query: { datastar: '{"a":1}' }, body: undefined })
 */
export function readSignals (source: SignalsSource, options: ParseSignalsOptions = {}): Signals {
  const method = source.method
  if (method === 'GET' || method === 'HEAD') return signalsFromQuery(source.query, options) ?? {}
  if (method === 'DELETE') return signalsFromQuery(source.query, options) ?? signalsFromBody(source, options)
  return signalsFromBody(source, options)
}

function signalsFromQuery (query: unknown, options: ParseSignalsOptions): Signals | undefined {
  if (query === null || typeof query !== 'object') return undefined
  const value = (query as Record<string, unknown>)[SIGNALS_QUERY_PARAMETER]
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new FST_ERR_DATASTAR_SIGNALS_DUPLICATE(String(value.length))
  return parseSignals(String(value), options)
}

function signalsFromBody (source: SignalsSource, options: ParseSignalsOptions): Signals {
  const body = source.body
  if (body === undefined || body === '' || (Buffer.isBuffer(body) && body.length === 0)) return {}
  const contentType = source.contentType
  if (contentType !== undefined) {
    if (!isJsonType(contentType)) throw new FST_ERR_DATASTAR_SIGNALS_CONTENT_TYPE(contentType)
    // A JSON body parser made this value (and applied its own poisoning rules): a string is a JSON string, not text to decode again.
    if (!Buffer.isBuffer(body)) return checkSignals(body, options, false)
  }
  if (typeof body === 'string') return parseSignals(body, options)
  if (Buffer.isBuffer(body)) return parseSignals(body.toString('utf8'), options)
  return checkSignals(body, options, false)
}

// The value must be an object no deeper than the bound (checked first: validators and scans recurse); `scan` for prototype keys.
function checkSignals (value: unknown, options: ParseSignalsOptions, scan: boolean): Signals {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT(value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)
  }
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_SIGNALS_DEPTH
  if (depthExceeds(value, maxDepth)) throw new FST_ERR_DATASTAR_SIGNALS_TOO_DEEP(maxDepth)
  if (scan) {
    const protoAction = options.protoAction ?? 'error'
    const constructorAction = options.constructorAction ?? 'error'
    try {
      secureJson.scan(value, { protoAction, constructorAction })
    } catch {
      throw new FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY()
    }
  }
  return value as Signals
}

// Without recursion: the value may be deeper than the stack allows.
function depthExceeds (root: object, maxDepth: number): boolean {
  const stack: Array<[object, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [object, number]
    for (const child of Object.values(node)) {
      if (child === null || typeof child !== 'object') continue
      if (depth + 1 > maxDepth) return true
      stack.push([child, depth + 1])
    }
  }
  return false
}

// application/json, and structured syntax types such as application/merge-patch+json (RFC 6839).
function isJsonType (contentType: string): boolean {
  const type = (contentType.split(';')[0] as string).trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}
