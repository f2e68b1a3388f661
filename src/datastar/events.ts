/**
 * Datastar's protocol on top of SSE (the Datastar SDK ADR): each function turns
 * a call such as `patchElements(html, options)` into the exact event text, so it
 * can be encoded once and written to any number of streams. Options at their
 * default values are left out, as the reference SDKs do.
 */
import {
  FST_ERR_DATASTAR_INVALID_ARGUMENT,
  FST_ERR_DATASTAR_INVALID_MODE,
  FST_ERR_DATASTAR_INVALID_NAMESPACE
} from '../errors.js'
import { assertSingleLine, encodeDataLines, encodeEventHead } from '../sse/format.js'
import { escapeHtml, escapeScript, renderAttributes, type ScriptAttributes } from './html.js'

/** Event type that patches elements. */
export const PATCH_ELEMENTS_EVENT = 'datastar-patch-elements'
/** Event type that patches signals. */
export const PATCH_SIGNALS_EVENT = 'datastar-patch-signals'
/** The client's default reconnection delay; equal values are not sent. */
export const DEFAULT_RETRY_DURATION = 1000
/** How patched elements are applied to the DOM. */
export const PATCH_MODES = ['outer', 'inner', 'replace', 'prepend', 'append', 'before', 'after', 'remove'] as const
/** Namespaces elements can be created in. */
export const NAMESPACES = ['html', 'svg', 'mathml'] as const

export type PatchMode = typeof PATCH_MODES[number]
export type Namespace = typeof NAMESPACES[number]

/** Options every Datastar event accepts. */
export interface EventOptions {
  /** The SSE `id` of the event; a single line. */
  eventId?: string
  /** Client reconnection delay in ms (the SSE `retry`); 1000 is the default and not sent. */
  retryDuration?: number
}

/** Options of `patchElements`. */
export interface PatchElementsOptions extends EventOptions {
  /** CSS selector of the target; without one, elements are matched by id. */
  selector?: string
  /** Default `outer`. */
  mode?: PatchMode
  /** Default `html`. */
  namespace?: Namespace
  /** Wrap the patch in a View Transition. Default false. */
  useViewTransition?: boolean
  /** Element a view transition is scoped to. */
  viewTransitionSelector?: string
}

/** Options of `removeElements` and `removeElementsById`: the event's, and a patch's view transition. */
export interface RemoveElementsOptions extends EventOptions {
  /** Wrap the removal in a View Transition. Default false. */
  useViewTransition?: boolean
  /** Element a view transition is scoped to. */
  viewTransitionSelector?: string
}

/** Options of `patchSignals`. */
export interface PatchSignalsOptions extends EventOptions {
  /** Only set signals the client does not have yet. Default false. */
  onlyIfMissing?: boolean
}

/** Options of `executeScript`. */
export interface ExecuteScriptOptions extends EventOptions {
  /** Remove the `<script>` once it has run. Default true. */
  autoRemove?: boolean
  /** Attributes of the `<script>` tag. */
  attributes?: ScriptAttributes
}

/** Options of `dispatchCustomEvent`. */
export interface CustomEventOptions extends EventOptions {
  /** Elements to dispatch on; default `document`. */
  selector?: string
  /** Default true. */
  bubbles?: boolean
  /** Default true. */
  cancelable?: boolean
  /** Default true. */
  composed?: boolean
}

/** Signals to patch: an object (JSON Merge Patch, RFC 7386) or JSON text sent as-is. */
export type SignalsPatch = Readonly<Record<string, unknown>> | string

function head (type: string, options: EventOptions | undefined): string {
  const retry = options?.retryDuration
  return encodeEventHead(type, options?.eventId, retry === DEFAULT_RETRY_DURATION ? undefined : retry)
}

/**
 * Returns `value` if it is a non-empty single-line string, else throws a coded error.
 * @example requireSingleLine('selector', '#feed')
 */
export function requireSingleLine (name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`${name} must be a non-empty string`)
  assertSingleLine(name, value)
  return value
}

/**
 * Throws a coded error unless `mode` is a patch mode (undefined is the default).
 * @example validateMode('inner')
 */
export function validateMode (mode: unknown): void {
  if (mode !== undefined && !PATCH_MODES.includes(mode as PatchMode)) throw new FST_ERR_DATASTAR_INVALID_MODE(String(mode), PATCH_MODES.join(', '))
}

/**
 * Throws a coded error unless `namespace` is a namespace (undefined is the default).
 * @example validateNamespace('svg')
 */
export function validateNamespace (namespace: unknown): void {
  if (namespace !== undefined && !NAMESPACES.includes(namespace as Namespace)) throw new FST_ERR_DATASTAR_INVALID_NAMESPACE(String(namespace), NAMESPACES.join(', '))
}

/**
 * The `datastar-patch-elements` event: morph, insert or remove elements.
 * @example patchElementsEvent('<div id="feed">…</div>', { mode: 'inner' })
 */
export function patchElementsEvent (elements: string, options?: PatchElementsOptions): string {
  const mode = options?.mode
  validateMode(mode)
  const namespace = options?.namespace
  validateNamespace(namespace)
  const selector = options?.selector
  if (typeof elements !== 'string') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('elements must be a string')
  const removeBySelector = mode === 'remove' && selector !== undefined
  if (elements.trim() === '' && !removeBySelector) {
    throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('elements must not be empty (only mode "remove" with a selector needs none)')
  }
  let text = head(PATCH_ELEMENTS_EVENT, options)
  if (selector !== undefined) text += 'data: selector ' + requireSingleLine('selector', selector) + '\n'
  if (mode !== undefined && mode !== 'outer') text += 'data: mode ' + mode + '\n'
  if (options?.useViewTransition === true) text += 'data: useViewTransition true\n'
  if (options?.viewTransitionSelector !== undefined) {
    text += 'data: viewTransitionSelector ' + requireSingleLine('viewTransitionSelector', options.viewTransitionSelector) + '\n'
  }
  if (namespace !== undefined && namespace !== 'html') text += 'data: namespace ' + namespace + '\n'
  if (elements !== '') text += encodeDataLines('elements ', elements)
  return text + '\n'
}

/**
 * Removes the elements a selector matches.
 * @example removeElementsEvent('#toast', { useViewTransition: true })
 */
export function removeElementsEvent (selector: string, options?: RemoveElementsOptions): string {
  return patchElementsEvent('', { ...pickRemovalOptions(options), selector: requireSingleLine('selector', selector), mode: 'remove' })
}

/**
 * Removes elements by id (sent as empty elements carrying those ids).
 * @example removeElementsByIdEvent(['a', 'b'])
 */
export function removeElementsByIdEvent (ids: string | readonly string[], options?: RemoveElementsOptions): string {
  const list = typeof ids === 'string' ? [ids] : ids
  if (list.length === 0) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('removeElementsById needs at least one id')
  let elements = ''
  for (const id of list) elements += '<div id="' + escapeHtml(requireSingleLine('id', id)) + '"></div>'
  return patchElementsEvent(elements, { ...pickRemovalOptions(options), mode: 'remove' })
}

/**
 * The `datastar-patch-signals` event. An object is serialised; a string is
 * taken as JSON already encoded (and may span lines).
 * @example patchSignalsEvent({ count: 1 }, { onlyIfMissing: true })
 */
export function patchSignalsEvent (signals: SignalsPatch, options?: PatchSignalsOptions): string {
  const json = signalsJson(signals)
  let text = head(PATCH_SIGNALS_EVENT, options)
  if (options?.onlyIfMissing === true) text += 'data: onlyIfMissing true\n'
  return text + encodeDataLines('signals ', json) + '\n'
}

/**
 * The JSON text of a signals patch: an object serialised, or non-empty JSON text as given.
 * @example signalsJson({ count: 1 }) // '{"count":1}'
 */
export function signalsJson (signals: SignalsPatch): string {
  if (typeof signals === 'string') {
    if (signals.trim() === '') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('signals must not be empty')
    return signals
  }
  if (signals === null || typeof signals !== 'object' || Array.isArray(signals)) {
    throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('signals must be an object or a JSON string')
  }
  return toJson(signals, 'signals')
}

/**
 * Removes signals by dotted path: `'user.name'` sends `{"user":{"name":null}}`.
 * A shorter path wins over a longer one below it.
 * @example removeSignalsEvent(['user.name', 'draft'])
 */
export function removeSignalsEvent (paths: string | readonly string[], options?: EventOptions): string {
  return patchSignalsEvent(removalPatch(paths), pickEventOptions(options))
}

/**
 * Runs a script in the browser by appending a `<script>` to `body`.
 * @example executeScriptEvent('console.log(1)', { attributes: { type: 'module' } })
 */
export function executeScriptEvent (script: string, options?: ExecuteScriptOptions): string {
  if (typeof script !== 'string' || script.trim() === '') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('script must be a non-empty string')
  let attributes = renderAttributes(options?.attributes)
  if (options?.autoRemove !== false) attributes += ' data-effect="el.remove()"'
  const tag = '<script' + attributes + '>' + escapeScript(script) + '</script>'
  return head(PATCH_ELEMENTS_EVENT, options) + 'data: mode append\ndata: selector body\n' + encodeDataLines('elements ', tag) + '\n'
}

/**
 * Navigates the browser to `url`.
 * @example redirectEvent('/login')
 */
export function redirectEvent (url: string, options?: EventOptions): string {
  return executeScriptEvent(`setTimeout(() => { window.location.href = ${toJson(url, 'url')} })`, options)
}

/**
 * Logs to the browser console.
 * @example consoleLogEvent('saved')
 */
export function consoleLogEvent (message: unknown, options?: EventOptions): string {
  return executeScriptEvent(`console.log(${toJson(message ?? null, 'message')})`, options)
}

/**
 * Logs an error (its message) to the browser console.
 * @example consoleErrorEvent(new Error('failed'))
 */
export function consoleErrorEvent (error: unknown, options?: EventOptions): string {
  const message = error instanceof Error ? error.message : String(error)
  return executeScriptEvent(`console.error(${toJson(message, 'error')})`, options)
}

/**
 * Dispatches a `CustomEvent` on `document` or on the elements a selector matches.
 * @example dispatchCustomEventEvent('cart-updated', { items: 3 }, { selector: '#cart' })
 */
export function dispatchCustomEventEvent (name: string, detail?: unknown, options?: CustomEventOptions): string {
  const init = `{ bubbles: ${options?.bubbles !== false}, cancelable: ${options?.cancelable !== false}, composed: ${options?.composed !== false}, detail: ${toJson(detail ?? null, 'detail')} }`
  const create = `new CustomEvent(${toJson(requireSingleLine('event name', name), 'name')}, ${init})`
  const script = options?.selector === undefined
    ? `document.dispatchEvent(${create})`
    : `document.querySelectorAll(${toJson(options.selector, 'selector')}).forEach((el) => el.dispatchEvent(${create}))`
  return executeScriptEvent(script, pickEventOptions(options))
}

/**
 * Replaces the browser's URL without navigating.
 * @example replaceUrlEvent('/items?page=2')
 */
export function replaceUrlEvent (url: string, options?: EventOptions): string {
  return executeScriptEvent(`window.history.replaceState({}, '', ${toJson(url, 'url')})`, options)
}

/**
 * Asks the browser to prefetch URLs (Speculation Rules).
 * @example prefetchEvent(['/next', '/help'])
 */
export function prefetchEvent (urls: string | readonly string[], options?: EventOptions): string {
  const list = typeof urls === 'string' ? [urls] : urls
  // Speculation rules are JSON, where `<\!--` (escapeScript's fix) is invalid: escape `<` the JSON way.
  const rules = toJson({ prefetch: [{ source: 'list', urls: list }] }, 'urls').replaceAll('<', '\\u003c')
  return executeScriptEvent(rules, { ...pickEventOptions(options), attributes: { type: 'speculationrules' }, autoRemove: false })
}

/**
 * The JSON Merge Patch that removes signals by dotted path. Objects have no
 * prototype, so a path like `__proto__.x` is only ever a key.
 * @example removalPatch('user.name') // { user: { name: null } }
 */
export function removalPatch (paths: string | readonly string[]): Record<string, unknown> {
  const list = typeof paths === 'string' ? [paths] : paths
  if (list.length === 0) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('removeSignals needs at least one path')
  for (const path of list) {
    if (typeof path !== 'string' || path === '' || path.split('.').includes('')) {
      throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`signal path ${JSON.stringify(path)} must be dotted names without empty segments`)
    }
  }
  const patch: Record<string, unknown> = Object.create(null)
  // Shorter paths first, so a parent removal is never overwritten by a child.
  const sorted = [...list].sort((a, b) => a.split('.').length - b.split('.').length)
  for (const path of sorted) {
    const segments = path.split('.')
    const leaf = segments.pop() as string
    let node = patch
    let removedAbove = false
    for (const key of segments) {
      const child = node[key]
      if (child === null) {
        removedAbove = true
        break
      }
      node = child === undefined ? (node[key] = Object.create(null)) : child as Record<string, unknown>
    }
    if (!removedAbove) node[leaf] = null
  }
  return patch
}

function pickEventOptions (options: EventOptions | undefined): EventOptions {
  const picked: EventOptions = {}
  if (options?.eventId !== undefined) picked.eventId = options.eventId
  if (options?.retryDuration !== undefined) picked.retryDuration = options.retryDuration
  return picked
}

// A removal is a patch: it keeps the event's options and a view transition, not a selector or mode of the caller's.
function pickRemovalOptions (options: RemoveElementsOptions | undefined): RemoveElementsOptions {
  const picked: RemoveElementsOptions = pickEventOptions(options)
  if (options?.useViewTransition !== undefined) picked.useViewTransition = options.useViewTransition
  if (options?.viewTransitionSelector !== undefined) picked.viewTransitionSelector = options.viewTransitionSelector
  return picked
}

/**
 * JSON.stringify with a coded error for what JSON cannot hold (BigInt, cycles, undefined).
 * @example toJson({ a: 1 }, 'signals') // '{"a":1}'
 */
export function toJson (value: unknown, name: string): string {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (error) {
    throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`${name} cannot be serialised to JSON: ${(error as Error).message}`)
  }
  if (json === undefined) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`${name} cannot be serialised to JSON`)
  return json
}
