/**
 * Reading the signals a Datastar client sends: the `datastar` query parameter
 * on GET (and DELETE), the JSON body otherwise. Prototype-poisoning keys are
 * handled with the same actions as Fastify's JSON body parser.
 */
import secureJson from 'secure-json-parse'
import {
  FST_ERR_DATASTAR_SIGNALS_DUPLICATE,
  FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY,
  FST_ERR_DATASTAR_SIGNALS_INVALID_JSON,
  FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT
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
}

/** The parts of a request signals come from. */
export interface SignalsSource {
  method: string
  /** The parsed query string. */
  query: unknown
  /** The parsed body, if any. */
  body: unknown
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
  return checkSignals(value, options)
}

/**
 * Reads signals from a request: GET and HEAD from the `datastar` query
 * parameter, DELETE from it or else the body, other methods (POST, PUT, PATCH,
 * QUERY...) from the body. A body Fastify already parsed is used as it is.
 * @example readSignals({ method: 'GET', query: { datastar: '{"a":1}' }, body: undefined })
 */
export function readSignals (source: SignalsSource, options: ParseSignalsOptions = {}): Signals {
  const method = source.method
  if (method === 'GET' || method === 'HEAD') return signalsFromQuery(source.query, options) ?? {}
  if (method === 'DELETE') return signalsFromQuery(source.query, options) ?? signalsFromBody(source.body, options)
  return signalsFromBody(source.body, options)
}

function signalsFromQuery (query: unknown, options: ParseSignalsOptions): Signals | undefined {
  if (query === null || typeof query !== 'object') return undefined
  const value = (query as Record<string, unknown>)[SIGNALS_QUERY_PARAMETER]
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new FST_ERR_DATASTAR_SIGNALS_DUPLICATE(String(value.length))
  return parseSignals(String(value), options)
}

function signalsFromBody (body: unknown, options: ParseSignalsOptions): Signals {
  if (body === undefined || body === null) return {}
  if (typeof body === 'string') return parseSignals(body, options)
  if (Buffer.isBuffer(body)) return parseSignals(body.toString('utf8'), options)
  // Already parsed by a Fastify content-type parser, which applied its own poisoning rules.
  return checkSignals(body, undefined)
}

function checkSignals (value: unknown, poisoning: ParseSignalsOptions | undefined): Signals {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FST_ERR_DATASTAR_SIGNALS_NOT_OBJECT(value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)
  }
  if (poisoning !== undefined) {
    const protoAction = poisoning.protoAction ?? 'error'
    const constructorAction = poisoning.constructorAction ?? 'error'
    try {
      secureJson.scan(value, { protoAction, constructorAction })
    } catch {
      throw new FST_ERR_DATASTAR_SIGNALS_FORBIDDEN_KEY()
    }
  }
  return value as Signals
}
