/**
 * Datastar responses without SSE: the client also accepts a single
 * `text/html`, `application/json` or `text/javascript` response, with its
 * options in `datastar-*` headers. These are ordinary responses, so they go
 * through the framework's send path (compression, hooks, content length).
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { FST_ERR_DATASTAR_INVALID_ARGUMENT } from '../errors.js'
import { requireSingleLine, signalsJson, validateMode, type PatchMode, type SignalsPatch } from './events.js'
import { attributeEntries, type ScriptAttributes } from './html.js'

/** Options of a one-shot HTML response. */
export interface ElementsResponseOptions {
  selector?: string
  mode?: PatchMode
  useViewTransition?: boolean
}

/** Options of a one-shot JSON response. */
export interface SignalsResponseOptions {
  onlyIfMissing?: boolean
}

/** Options of a one-shot JavaScript response. */
export interface ScriptResponseOptions {
  attributes?: ScriptAttributes
}

/** A one-shot response: its headers and body. */
export interface OneShotResponse {
  headers: OutgoingHttpHeaders
  body: string
}

/**
 * A `text/html` response that patches elements.
 * @example elementsResponse('<p id="x">hi</p>', { mode: 'inner', selector: '#box' })
 */
export function elementsResponse (elements: string, options: ElementsResponseOptions = {}): OneShotResponse {
  if (typeof elements !== 'string') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('elements must be a string')
  const headers: OutgoingHttpHeaders = { 'content-type': 'text/html; charset=utf-8' }
  if (options.selector !== undefined) headers['datastar-selector'] = requireSingleLine('selector', options.selector)
  validateMode(options.mode)
  if (options.mode !== undefined && options.mode !== 'outer') headers['datastar-mode'] = options.mode
  if (options.useViewTransition === true) headers['datastar-use-view-transition'] = 'true'
  return { headers, body: elements }
}

/**
 * An `application/json` response that patches signals.
 * @example signalsResponse({ count: 2 }, { onlyIfMissing: true })
 */
export function signalsResponse (signals: SignalsPatch, options: SignalsResponseOptions = {}): OneShotResponse {
  const body = signalsJson(signals)
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json; charset=utf-8' }
  if (options.onlyIfMissing === true) headers['datastar-only-if-missing'] = 'true'
  return { headers, body }
}

/**
 * A `text/javascript` response that the client runs.
 * @example scriptResponse('console.log(1)', { attributes: { type: 'module' } })
 */
export function scriptResponse (script: string, options: ScriptResponseOptions = {}): OneShotResponse {
  if (typeof script !== 'string') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('script must be a string')
  const headers: OutgoingHttpHeaders = { 'content-type': 'text/javascript; charset=utf-8' }
  if (options.attributes !== undefined) headers['datastar-script-attributes'] = JSON.stringify(Object.fromEntries(attributeEntries(options.attributes)))
  return { headers, body: script }
}
