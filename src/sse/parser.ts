/**
 * An incremental parser of the SSE wire format, following the WHATWG
 * "event stream interpretation" rules. Useful in tests and in Node clients.
 */

/** An event as a client sees it after parsing. */
export interface ParsedEvent {
  /** The `event:` field, or 'message' when absent. */
  event: string
  /** The `data:` lines joined with LF. */
  data: string
  /** The last event id seen so far (it persists across events, as in browsers). */
  id: string
  /** The `retry:` value carried by this event, if any. */
  retry?: number
  /** The raw `data:` lines, before joining. */
  dataLines: string[]
}

/**
 * Parses text chunks as they arrive; events and comments are returned once the
 * blank line that ends them has been read.
 * @example
 * const parser = new SSEParser()
 * parser.push('event: a\ndata: 1\n\n') // [{ event: 'a', data: '1', ... }]
 */
export class SSEParser {
  /** Comments seen so far, without their leading colon. */
  readonly comments: string[] = []
  #buffer = ''
  #lastId = ''
  #event = ''
  #dataLines: string[] = []
  #retry: number | undefined
  #hasData = false
  #pendingCR = false
  #atStart = true
  #lastRetry: number | undefined

  /** The last `retry:` value seen, which applies at once (even in a block without data). */
  get retry (): number | undefined {
    return this.#lastRetry
  }

  /** Feeds a chunk and returns the events it completed. */
  push (chunk: string): ParsedEvent[] {
    const events: ParsedEvent[] = []
    // An empty chunk (a decoder holding half a character) must not forget a pending CR.
    if (chunk === '') return events
    let text = this.#buffer + chunk
    if (this.#atStart) {
      // The stream may start with a byte order mark, which the spec ignores.
      this.#atStart = false
      if (text.startsWith('\uFEFF')) text = text.slice(1)
    }
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1)
    this.#pendingCR = false
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const char = text.charCodeAt(i)
      if (char !== 10 && char !== 13) continue
      const line = text.slice(start, i)
      if (char === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++
        } else {
          this.#pendingCR = true
        }
      }
      start = i + 1
      const event = this.#line(line)
      if (event !== undefined) events.push(event)
    }
    this.#buffer = text.slice(start)
    return events
  }

  #line (line: string): ParsedEvent | undefined {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).replace(/^ /, ''))
      return undefined
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.#event = value
        break
      case 'data':
        this.#dataLines.push(value)
        this.#hasData = true
        break
      case 'id':
        if (!value.includes('\0')) this.#lastId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.#retry = this.#lastRetry = Number(value)
        break
    }
    return undefined
  }

  #dispatch (): ParsedEvent | undefined {
    const hasData = this.#hasData
    const event: ParsedEvent = {
      event: this.#event === '' ? 'message' : this.#event,
      data: this.#dataLines.join('\n'),
      id: this.#lastId,
      dataLines: this.#dataLines
    }
    if (this.#retry !== undefined) event.retry = this.#retry
    this.#event = ''
    this.#dataLines = []
    this.#retry = undefined
    this.#hasData = false
    // As in browsers, an event without data is not dispatched.
    return hasData ? event : undefined
  }
}
