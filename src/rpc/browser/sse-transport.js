// @ts-check
/**
 * RPC without WebSocket: the same messages down an SSE stream and up as
 * POSTs, behind the face of a WebSocket the client already uses (`SocketLike`:
 * onopen, onmessage, onclose, send, close, readyState), so the client and its
 * Peer do not know which one carries them. Runs in the browser as it is.
 *
 * - Down: the first message the client sends (its `hello`) is the body of a
 *   `fetch()` POST to the stream URL (never the token in a URL); the answer is
 *   an event stream whose first event is the `welcome` (with `key`, this
 *   connection's secret), then one event per message, `id:` the highest frame
 *   number it carries. A connection the server closes ends with
 *   `event: close`, data `{"code","reason"}`: the close codes of a WebSocket.
 * - Up: each later message is the body of a POST to `frames` beside the
 *   stream URL, naming the connection in headers (session, key). One POST at a
 *   time, in order (the receiver refuses gaps); messages sent meanwhile wait
 *   and leave together as one batch. A failed POST ends the connection: its
 *   frames are still in the Peer's outbox, sent again on the resume.
 * - `close(code)` (and the page's `pagehide`, as a browser closes its
 *   WebSockets with 1001) tells the server with a last POST, `keepalive` so it
 *   outlives the page.
 */

/** The headers of a POST of frames: the connection it is for, and a close code when it ends it. */
export const SSE_HEADERS = Object.freeze({
  session: 'x-rpc-session',
  key: 'x-rpc-key',
  close: 'x-rpc-close'
})

/** @typedef {{ event: string, data: string, id: string }} StreamEvent */
/**
 * What the transport needs of `fetch` (the global one, or a test's).
 * @typedef {(url: string, init: RequestInit) => Promise<Response>} FetchLike
 */

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

// The close code of a connection lost (the stream ended or failed without a close event), as a WebSocket's.
const ABNORMAL = 1006

/**
 * An incremental parser of the event-stream format (WHATWG "interpreting an
 * event stream"), what the transport reads: CRLF, CR or LF line ends, comments
 * skipped, `data:` lines joined with LF, the last `id:` kept across events.
 * @example new EventParser().push('id: 3\ndata: {"t":"ack","ack":1}\n\n') // [{ event: 'message', data: '{"t":"ack","ack":1}', id: '3' }]
 */
export class EventParser {
  #buffer = ''
  #atStart = true
  #pendingCR = false
  #event = ''
  /** @type {string[] | null} */
  #data = null
  #id = ''

  /**
   * Feeds decoded text; returns the events it completed.
   * @param {string} chunk
   * @example parser.push('data: 1\n\n') // [{ event: 'message', data: '1', id: '' }]
   * @returns {StreamEvent[]}
   */
  push (chunk) {
    /** @type {StreamEvent[]} */
    const events = []
    if (chunk === '') return events
    let text = this.#buffer + chunk
    if (this.#atStart) {
      this.#atStart = false
      if (text.charCodeAt(0) === 0xFEFF) text = text.slice(1)
    }
    // A CR that ended the last chunk may be the first half of a CRLF.
    if (this.#pendingCR && text.charCodeAt(0) === 10) text = text.slice(1)
    this.#pendingCR = false
    let start = 0
    for (let index = 0; index < text.length; index++) {
      const char = text.charCodeAt(index)
      if (char !== 10 && char !== 13) continue
      this.#line(text.slice(start, index), events)
      if (char === 13) {
        if (index + 1 === text.length) this.#pendingCR = true
        else if (text.charCodeAt(index + 1) === 10) index++
      }
      start = index + 1
    }
    this.#buffer = text.slice(start)
    return events
  }

  /**
   * @param {string} line
   * @param {StreamEvent[]} events
   */
  #line (line, events) {
    if (line === '') {
      if (this.#data !== null) events.push({ event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n'), id: this.#id })
      this.#event = ''
      this.#data = null
      return
    }
    if (line.charCodeAt(0) === 58) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'data') (this.#data ??= []).push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
  }
}

/**
 * Whether a message may join others in one batch: a batch, a numbered frame
 * or an ack (as peer.js writes them); `hello`, `welcome` and `bye` travel alone.
 * @param {string} text
 */
function batchable (text) {
  return text.startsWith('[') || text.startsWith('{"s":') || text.startsWith('{"t":"ack"')
}

/**
 * The RPC connection over an SSE stream and POSTs: a `SocketLike` for the client.
 * @example const socket = new SseTransport('https://example.com/rpc/stream'); socket.onopen = () => socket.send(hello)
 */
export class SseTransport {
  /** As a WebSocket's: 0 connecting, 1 open, 2 closing, 3 closed. */
  readyState = CONNECTING
  /** @type {((event: unknown) => void) | null} */
  onopen = null
  /** @type {((event: { data: unknown }) => void) | null} */
  onmessage = null
  /** @type {((event: { code: number, reason: string }) => void) | null} */
  onclose = null
  /** @type {((event: unknown) => void) | null} */
  onerror = null
  #url
  #framesUrl
  /** @type {FetchLike} */
  #fetch
  // Aborts the stream and the POST in flight when the connection ends.
  #abort = new AbortController()
  #helloSent = false
  /** @type {{ session: string, key: string } | null} */
  #connection = null
  // Characters per POST: UTF-8 takes at most 3 bytes per character, and the server takes maxFrame bytes.
  #maxChars = Infinity
  /** @type {string[]} */
  #queue = []
  #posting = false
  /** @type {{ code: number, reason: string } | null} */
  #closing = null
  /** @type {(() => void) | null} */
  #onPageHide = null

  /**
   * @param {string} url the stream's URL (`<prefix>/stream`); frames are POSTed to `frames` beside it
   * @param {{ fetch?: FetchLike }} [options]
   */
  constructor (url, options = {}) {
    this.#url = url
    this.#framesUrl = new URL('frames', url).href
    const fetchFunction = options.fetch ?? /** @type {FetchLike | undefined} */ (globalThis.fetch?.bind(globalThis))
    if (fetchFunction === undefined) throw new TypeError('no fetch: pass options.fetch')
    this.#fetch = fetchFunction
    // Open at once: the network is used by the first send (the hello), which the stream's request carries.
    queueMicrotask(() => {
      if (this.readyState !== CONNECTING) return
      this.readyState = OPEN
      this.onopen?.(undefined)
    })
    const page = /** @type {{ addEventListener?: (type: string, listener: () => void) => void }} */ (globalThis)
    if (typeof page.addEventListener === 'function') {
      this.#onPageHide = () => { this.#leave(1001, 'the page is going away') }
      page.addEventListener('pagehide', this.#onPageHide)
    }
  }

  /**
   * Sends a message: the first (the hello) opens the stream, the others are POSTed in order.
   * @param {string} text
   * @example socket.send('{"t":"ack","ack":3}')
   */
  send (text) {
    if (this.readyState !== OPEN) return
    if (!this.#helloSent) {
      this.#helloSent = true
      this.#read(text).catch((error) => { this.#end(ABNORMAL, 'the stream failed', error) })
      return
    }
    this.#queue.push(text)
    this.#pump()
  }

  /**
   * Ends the connection after the messages already sent, and tells the server the code.
   * @param {number} [code]
   * @param {string} [reason]
   * @example socket.close(1000, 'closed')
   */
  close (code = 1000, reason = '') {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    if (this.#connection === null) {
      // No welcome yet: there is no connection to tell.
      this.#end(code, reason)
      return
    }
    this.readyState = CLOSING
    this.#closing = { code, reason }
    this.#pump()
  }

  /**
   * Opens the stream with the hello and hands each event on until the stream ends.
   * @param {string} hello
   */
  async #read (hello) {
    /** @type {Response} */
    let response
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: hello,
        signal: this.#abort.signal
      })
    } catch (error) {
      this.#end(ABNORMAL, 'the stream could not be opened', error)
      return
    }
    if (!response.ok || response.body === null) {
      response.body?.cancel().catch(() => {})
      // 400: the server refused the hello, as a WebSocket closes with 1008; anything else is as a refused upgrade.
      this.#end(response.status === 400 ? 1008 : ABNORMAL, `the server answered ${response.status}`)
      return
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const parser = new EventParser()
    try {
      // Until the stream ends: the server's close event, the end of the body, or the abort.
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          if (this.readyState === CLOSED) return
          if (event.event === 'close') {
            const { code, reason } = closeOf(event.data)
            this.#end(code, reason)
            return
          }
          if (this.#connection === null) this.#welcomed(event.data)
          if (this.readyState === OPEN) this.onmessage?.({ data: event.data })
        }
      }
    } catch (error) {
      this.#end(ABNORMAL, 'the stream was cut', error)
      return
    } finally {
      reader.cancel().catch(() => {})
    }
    this.#end(ABNORMAL, 'the stream ended')
  }

  /**
   * The first event: the welcome names the session, this connection's key and the server's bound.
   * @param {string} data
   */
  #welcomed (data) {
    try {
      const welcome = JSON.parse(data)
      if (typeof welcome?.session !== 'string' || typeof welcome.key !== 'string') return
      this.#connection = { session: welcome.session, key: welcome.key }
      if (Number.isSafeInteger(welcome.maxFrame) && welcome.maxFrame > 0) this.#maxChars = Math.floor(welcome.maxFrame / 3)
    } catch {
      // Not JSON: the client refuses it as it would any message.
      return
    }
    // Messages sent before the welcome (none from the client, but a test's) leave now.
    queueMicrotask(() => { this.#pump() })
  }

  // Sends the next POST: the waiting messages, as many as one batch holds; once none wait, the close if asked.
  #pump () {
    const connection = this.#connection
    if (this.#posting || connection === null || this.readyState === CLOSED) return
    if (this.#queue.length === 0) {
      if (this.#closing !== null) this.#leave(this.#closing.code, this.#closing.reason)
      return
    }
    const body = this.#take()
    this.#posting = true
    this.#fetch(this.#framesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SSE_HEADERS.session]: connection.session, [SSE_HEADERS.key]: connection.key },
      body,
      signal: this.#abort.signal
    }).then((response) => {
      response.body?.cancel().catch(() => {})
      this.#posting = false
      if (response.ok) {
        this.#pump()
        return
      }
      // 400: a frame refused (its close event may still be on the way); 413: past the bound; else the connection is gone.
      this.#end(response.status === 400 ? 1008 : response.status === 413 ? 1009 : ABNORMAL, `a POST of frames was answered ${response.status}`)
    }, (error) => {
      this.#posting = false
      this.#end(ABNORMAL, 'a POST of frames failed', error)
    })
  }

  /**
   * The next POST's body: the first waiting message, joined with the next ones into one batch while they are batchable and fit.
   * @returns {string}
   */
  #take () {
    const queue = this.#queue
    const first = /** @type {string} */ (queue[0])
    let count = 1
    let chars = first.length + 2
    if (batchable(first)) {
      while (count < queue.length) {
        const next = /** @type {string} */ (queue[count])
        if (!batchable(next) || chars + next.length + 1 > this.#maxChars) break
        chars += next.length + 1
        count++
      }
    }
    const taken = queue.splice(0, count)
    if (count === 1) return first
    return '[' + taken.map((text) => (text.startsWith('[') ? text.slice(1, -1) : text)).join(',') + ']'
  }

  /**
   * Tells the server the connection ends with `code` (a POST that outlives the page), then ends it here.
   * @param {number} code
   * @param {string} reason
   */
  #leave (code, reason) {
    const connection = this.#connection
    if (connection !== null && this.readyState !== CLOSED) {
      this.#fetch(this.#framesUrl, {
        method: 'POST',
        headers: { [SSE_HEADERS.session]: connection.session, [SSE_HEADERS.key]: connection.key, [SSE_HEADERS.close]: String(code) },
        keepalive: true
      }).then((response) => { response.body?.cancel().catch(() => {}) }, () => {})
    }
    this.#end(code, reason)
  }

  /**
   * The connection is over: the stream and the POST in flight are aborted, waiting messages dropped (the Peer keeps its frames).
   * @param {number} code
   * @param {string} reason
   * @param {unknown} [error]
   */
  #end (code, reason, error) {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    this.#abort.abort()
    this.#queue.length = 0
    if (this.#onPageHide !== null) {
      const page = /** @type {{ removeEventListener: (type: string, listener: () => void) => void }} */ (/** @type {unknown} */ (globalThis))
      page.removeEventListener('pagehide', this.#onPageHide)
      this.#onPageHide = null
    }
    if (error !== undefined) this.onerror?.(error)
    this.onclose?.({ code, reason })
  }
}

/**
 * The code and reason of a close event; a malformed one is a lost connection.
 * @param {string} data
 * @returns {{ code: number, reason: string }}
 */
function closeOf (data) {
  try {
    const { code, reason } = JSON.parse(data)
    if (Number.isSafeInteger(code)) return { code, reason: typeof reason === 'string' ? reason : '' }
  } catch {}
  return { code: ABNORMAL, reason: 'a malformed close event' }
}
