/**
 * A Datastar stream: an SSE stream with the protocol's methods (methods.ts).
 * Each method encodes its event (throwing a coded error before anything is
 * written when an option is invalid) and writes it through the stream's
 * ordered path.
 */
import { SSEStream } from '../sse/stream.js'
import { defineDatastarMethods, type DatastarMethods } from './methods.js'

/**
 * Every Datastar method returns the write's promise: true once written, false
 * if the stream has closed. Awaiting it is optional; it never rejects.
 * @example
 * const sse = reply.datastar()
 * sse.patchElements('<div id="feed">…</div>')
 * sse.patchSignals({ count: 1 })
 */
export class DatastarStream extends SSEStream {}

// The methods are declared once, in methods.ts, and defined from its table.
export interface DatastarStream extends DatastarMethods<Promise<boolean>> {}

defineDatastarMethods(DatastarStream.prototype, function (event) { return this.write(event) })
