/**
 * The Datastar methods, written once. A Datastar stream writes each event to
 * its client; a registry (and `registry.to(key)`) publishes it to its
 * subscribers. Both are built from one table of the encoders of events.ts,
 * keyed by the interface's method names: a method the interface gains without
 * an encoder, or an encoder without a method, fails to compile.
 */
import * as events from './events.js'
import type { CustomEventOptions, EventOptions, ExecuteScriptOptions, PatchElementsOptions, PatchSignalsOptions, RemoveElementsOptions, SignalsPatch } from './events.js'

/**
 * The Datastar protocol's methods. Each encodes its event (throwing a coded
 * error before anything is sent when an argument is invalid) and sends it.
 * `Result` is what every method returns; `Extra` is what its options take
 * besides the event's own (a broadcast's `except` and `filter`).
 * @example
 * sse.patchElements('<div id="feed">…</div>') // a DatastarStream: Promise<boolean>
 * registry.patchElements('<div id="feed">…</div>', { except: sse }) // a Registry: Promise<string>, the event's id
 */
export interface DatastarMethods<Result, Extra = unknown> {
  /**
   * Patches elements into the DOM.
   * @example sse.patchElements('<li>new</li>', { selector: '#list', mode: 'append' })
   */
  patchElements (elements: string, options?: PatchElementsOptions & Extra): Result

  /**
   * Removes the elements matching a CSS selector.
   * @example sse.removeElements('#toast', { useViewTransition: true })
   */
  removeElements (selector: string, options?: RemoveElementsOptions & Extra): Result

  /**
   * Removes elements by id.
   * @example sse.removeElementsById(['row-1', 'row-2'])
   */
  removeElementsById (ids: string | readonly string[], options?: RemoveElementsOptions & Extra): Result

  /**
   * Patches signals: an object, or JSON text sent as-is.
   * @example sse.patchSignals({ count: 2 })
   */
  patchSignals (signals: SignalsPatch, options?: PatchSignalsOptions & Extra): Result

  /**
   * Removes signals by dotted path.
   * @example sse.removeSignals(['user.name', 'draft'])
   */
  removeSignals (paths: string | readonly string[], options?: EventOptions & Extra): Result

  /**
   * Runs a script in the browser.
   * @example sse.executeScript('console.log("hi")', { autoRemove: false })
   */
  executeScript (script: string, options?: ExecuteScriptOptions & Extra): Result

  /**
   * Navigates the browser to a URL.
   * @example sse.redirect('/done')
   */
  redirect (url: string, options?: EventOptions & Extra): Result

  /**
   * Logs to the browser console.
   * @example sse.consoleLog({ saved: true })
   */
  consoleLog (message: unknown, options?: EventOptions & Extra): Result

  /**
   * Logs an error to the browser console.
   * @example sse.consoleError(new Error('not saved'))
   */
  consoleError (error: unknown, options?: EventOptions & Extra): Result

  /**
   * Dispatches a CustomEvent in the browser.
   * @example sse.dispatchCustomEvent('saved', { id: 1 }, { selector: '#form' })
   */
  dispatchCustomEvent (name: string, detail?: unknown, options?: CustomEventOptions & Extra): Result

  /**
   * Replaces the browser's URL without navigating.
   * @example sse.replaceUrl('/items?page=2')
   */
  replaceUrl (url: string, options?: EventOptions & Extra): Result

  /**
   * Asks the browser to prefetch URLs.
   * @example sse.prefetch(['/next'])
   */
  prefetch (urls: string | readonly string[], options?: EventOptions & Extra): Result
}

type MethodName = keyof DatastarMethods<unknown>
type Arguments<M extends MethodName> = Parameters<DatastarMethods<unknown>[M]>
// The position of the last parameter, which is the options one in every method.
type LastIndex<A extends unknown[]> = Required<A> extends [...infer Before, unknown] ? Before['length'] : never

/** A method's encoder and the position of its options argument (checked against the interface). */
type MethodEntry<M extends MethodName> = readonly [encode: (...args: Arguments<M>) => string, optionsAt: LastIndex<Arguments<M>>]

const METHODS: { readonly [M in MethodName]: MethodEntry<M> } = {
  patchElements: [events.patchElementsEvent, 1],
  removeElements: [events.removeElementsEvent, 1],
  removeElementsById: [events.removeElementsByIdEvent, 1],
  patchSignals: [events.patchSignalsEvent, 1],
  removeSignals: [events.removeSignalsEvent, 1],
  executeScript: [events.executeScriptEvent, 1],
  redirect: [events.redirectEvent, 1],
  consoleLog: [events.consoleLogEvent, 1],
  consoleError: [events.consoleErrorEvent, 1],
  dispatchCustomEvent: [events.dispatchCustomEventEvent, 2],
  replaceUrl: [events.replaceUrlEvent, 1],
  prefetch: [events.prefetchEvent, 1]
}

/**
 * Defines every Datastar method on `prototype` (a class that declares
 * `interface C extends DatastarMethods<…> {}`): each encodes its event and
 * hands it to `send` with the call's options. `eventOptions`, when given,
 * turns those options into the ones the event is encoded with.
 * @example defineDatastarMethods(DatastarStream.prototype, function (event) { return this.write(event) })
 */
export function defineDatastarMethods<T extends DatastarMethods<Result, Extra>, Result, Extra> (
  prototype: T,
  send: (this: T, event: string, options: (EventOptions & Extra) | undefined) => Result,
  eventOptions?: (options: EventOptions & Extra) => EventOptions
): void {
  for (const [name, [encode, optionsAt]] of Object.entries(METHODS) as Array<[MethodName, readonly [(...args: unknown[]) => string, number]]>) {
    // A computed method name keeps `name` in stack traces.
    const { [name]: method } = {
      [name] (this: T, ...args: unknown[]): Result {
        const options = args[optionsAt] as (EventOptions & Extra) | undefined
        if (options !== undefined && eventOptions !== undefined) args[optionsAt] = eventOptions(options)
        return send.call(this, encode(...args), options)
      }
    }
    // As a class method is: not enumerable, writable, configurable.
    Object.defineProperty(prototype, name, { value: method, writable: true, configurable: true, enumerable: false })
  }
}
