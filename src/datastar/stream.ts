/**
 * A Datastar stream: an SSE stream with the protocol's methods. Each method
 * encodes its event (throwing a coded error before anything is written when an
 * option is invalid) and writes it through the stream's ordered path.
 */
import { SSEStream } from '../sse/stream.js'
import {
  consoleErrorEvent,
  consoleLogEvent,
  dispatchCustomEventEvent,
  executeScriptEvent,
  patchElementsEvent,
  patchSignalsEvent,
  prefetchEvent,
  redirectEvent,
  removeElementsByIdEvent,
  removeElementsEvent,
  removeSignalsEvent,
  replaceUrlEvent,
  type CustomEventOptions,
  type EventOptions,
  type ExecuteScriptOptions,
  type PatchElementsOptions,
  type PatchSignalsOptions,
  type SignalsPatch
} from './events.js'

/**
 * Every method returns the write's promise: true once written, false if the
 * stream has closed. Awaiting it is optional; it never rejects.
 * @example
 * const sse = reply.datastar()
 * sse.patchElements('<div id="feed">…</div>')
 * sse.patchSignals({ count: 1 })
 */
export class DatastarStream extends SSEStream {
  /**
   * Patches elements into the DOM.
   * @example sse.patchElements('<li>new</li>', { selector: '#list', mode: 'append' })
   */
  patchElements (elements: string, options?: PatchElementsOptions): Promise<boolean> {
    return this.write(patchElementsEvent(elements, options))
  }

  /**
   * Removes the elements matching a CSS selector.
   * @example sse.removeElements('#toast')
   */
  removeElements (selector: string, options?: EventOptions): Promise<boolean> {
    return this.write(removeElementsEvent(selector, options))
  }

  /**
   * Removes elements by id.
   * @example sse.removeElementsById(['row-1', 'row-2'])
   */
  removeElementsById (ids: string | readonly string[], options?: EventOptions): Promise<boolean> {
    return this.write(removeElementsByIdEvent(ids, options))
  }

  /**
   * Patches signals: an object, or JSON text sent as-is.
   * @example sse.patchSignals({ count: 2 })
   */
  patchSignals (signals: SignalsPatch, options?: PatchSignalsOptions): Promise<boolean> {
    return this.write(patchSignalsEvent(signals, options))
  }

  /**
   * Removes signals by dotted path.
   * @example sse.removeSignals(['user.name', 'draft'])
   */
  removeSignals (paths: string | readonly string[], options?: EventOptions): Promise<boolean> {
    return this.write(removeSignalsEvent(paths, options))
  }

  /**
   * Runs a script in the browser.
   * @example sse.executeScript('console.log("hi")', { autoRemove: false })
   */
  executeScript (script: string, options?: ExecuteScriptOptions): Promise<boolean> {
    return this.write(executeScriptEvent(script, options))
  }

  /**
   * Navigates the browser to a URL.
   * @example sse.redirect('/done')
   */
  redirect (url: string, options?: EventOptions): Promise<boolean> {
    return this.write(redirectEvent(url, options))
  }

  /**
   * Logs to the browser console.
   * @example sse.consoleLog({ saved: true })
   */
  consoleLog (message: unknown, options?: EventOptions): Promise<boolean> {
    return this.write(consoleLogEvent(message, options))
  }

  /**
   * Logs an error to the browser console.
   * @example sse.consoleError(new Error('not saved'))
   */
  consoleError (error: unknown, options?: EventOptions): Promise<boolean> {
    return this.write(consoleErrorEvent(error, options))
  }

  /**
   * Dispatches a CustomEvent in the browser.
   * @example sse.dispatchCustomEvent('saved', { id: 1 }, { selector: '#form' })
   */
  dispatchCustomEvent (name: string, detail?: unknown, options?: CustomEventOptions): Promise<boolean> {
    return this.write(dispatchCustomEventEvent(name, detail, options))
  }

  /**
   * Replaces the browser's URL without navigating.
   * @example sse.replaceUrl('/items?page=2')
   */
  replaceUrl (url: string, options?: EventOptions): Promise<boolean> {
    return this.write(replaceUrlEvent(url, options))
  }

  /**
   * Asks the browser to prefetch URLs.
   * @example sse.prefetch(['/next'])
   */
  prefetch (urls: string | readonly string[], options?: EventOptions): Promise<boolean> {
    return this.write(prefetchEvent(urls, options))
  }
}
