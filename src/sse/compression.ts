/**
 * Compression of an event stream that still streams: `Accept-Encoding`
 * negotiation, and a compressor that flushes after every event (or every
 * coalesced burst) with the flush kind that keeps the dictionary
 * (Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH, ZSTD_e_flush), so each event can be
 * decoded on arrival while later events still compress against earlier ones.
 */
import zlib from 'node:zlib'
import { FST_ERR_SSE_COMPRESSION } from '../errors.js'

/** A content coding for event streams. */
export type Encoding = 'zstd' | 'br' | 'gzip' | 'deflate'

/**
 * Server-priority default: best ratio and speed first. The default settings
 * keep a compressing stream's memory modest (about 150 KiB for zstd, 340 KiB
 * for brotli, 230 KiB for gzip; bench/compression) since one server holds many.
 */
export const DEFAULT_ENCODINGS: readonly Encoding[] = ['zstd', 'br', 'gzip', 'deflate']

/** Tuning of one algorithm; anything not given uses the stream-friendly default. */
export interface CompressionTuning {
  /** zstd level (1–22, default 1); brotli quality (0–11, default 5); gzip/deflate level (0–9, default 6). */
  level?: number
  /** Window size as a base-2 log: zstd windowLog (10–23, default 18), brotli lgwin (10–24, default 16), gzip/deflate windowBits (9–15, default 15). */
  window?: number
  /** gzip/deflate memLevel (1–9, default 8); zstd and brotli have none. */
  memLevel?: number
}

/** How a stream compresses. `false` anywhere turns compression off. */
export interface CompressionOptions {
  /** Encodings allowed, in server priority order. Default zstd, br, gzip, deflate (zstd only where the runtime has it). */
  encodings?: readonly Encoding[]
  /** Whose order wins among acceptable encodings: 'server' (default) or 'client' (highest q-value). */
  preference?: 'server' | 'client'
  /**
   * Gather the events written within this many ms into one flush (fewer,
   * better-compressed frames under bursts); `0` gathers one event-loop turn.
   * Default `false`: a flush after every event.
   */
  coalesce?: number | false
  zstd?: CompressionTuning
  br?: CompressionTuning
  gzip?: CompressionTuning
  deflate?: CompressionTuning
}

/** The compression a stream was given: its negotiated encoding and settings. */
export interface StreamCompression extends CompressionOptions {
  encoding: Encoding
}

/** True when this runtime can compress with `encoding` (zstd needs Node >= 22.15). */
export function isEncodingAvailable (encoding: Encoding): boolean {
  return encoding !== 'zstd' || typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function'
}

/**
 * Chooses the encoding for a request's `Accept-Encoding` (RFC 9110 §12.5.3):
 * q=0 refuses a coding, `*` stands for codings not listed, and no header (or
 * nothing acceptable) means identity. With `preference: 'server'` the first
 * acceptable encoding of `encodings` wins; with 'client' the highest q-value,
 * ties going to the server's order.
 * @example negotiateEncoding('gzip, br;q=0.8') // 'br' (server priority)
 * @example negotiateEncoding('gzip, br;q=0.8', { preference: 'client' }) // 'gzip'
 */
export function negotiateEncoding (acceptEncoding: string | undefined, options: CompressionOptions = {}): Encoding | 'identity' {
  if (acceptEncoding === undefined || acceptEncoding.trim() === '') return 'identity'
  const weights = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [token, ...parameters] = part.split(';')
    let coding = (token ?? '').trim().toLowerCase()
    // RFC 9110 §8.4.1.3: x-gzip is gzip.
    if (coding === 'x-gzip') coding = 'gzip'
    if (coding === '') continue
    let q = 1
    for (const parameter of parameters) {
      const [name, value] = parameter.split('=')
      if (name?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim())
        q = Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : 0
      }
    }
    // A coding listed twice keeps its highest weight.
    weights.set(coding, Math.max(q, weights.get(coding) ?? 0))
  }
  const wildcard = weights.get('*')
  let best: Encoding | 'identity' = 'identity'
  let bestQ = 0
  for (const encoding of options.encodings ?? DEFAULT_ENCODINGS) {
    if (!isEncodingAvailable(encoding)) continue
    const q = weights.get(encoding) ?? wildcard ?? 0
    if (q <= 0) continue
    if (options.preference !== 'client') return encoding
    if (q > bestQ) {
      best = encoding
      bestQ = q
    }
  }
  // A client that prefers identity outright gets it.
  const identity = weights.get('identity')
  return identity !== undefined && identity > bestQ ? 'identity' : best
}

type Compressor = zlib.Gzip | zlib.Deflate | zlib.BrotliCompress

interface Flavour {
  create: (tuning: CompressionTuning) => Compressor
  flushKind: number
}

const flavours: Record<Encoding, Flavour> = {
  gzip: {
    create: (tuning) => zlib.createGzip({ level: tuning.level ?? 6, windowBits: tuning.window ?? 15, memLevel: tuning.memLevel ?? 8 }),
    flushKind: zlib.constants.Z_SYNC_FLUSH
  },
  deflate: {
    create: (tuning) => zlib.createDeflate({ level: tuning.level ?? 6, windowBits: tuning.window ?? 15, memLevel: tuning.memLevel ?? 8 }),
    flushKind: zlib.constants.Z_SYNC_FLUSH
  },
  br: {
    create: (tuning) => zlib.createBrotliCompress({
      params: {
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_QUALITY]: tuning.level ?? 5,
        [zlib.constants.BROTLI_PARAM_LGWIN]: tuning.window ?? 16
      }
    }),
    flushKind: zlib.constants.BROTLI_OPERATION_FLUSH
  },
  zstd: {
    create: (tuning) => {
      // Feature-detected: zlib.createZstdCompress arrived in Node 22.15.
      const constants = zlib.constants as unknown as Record<string, number>
      const create = (zlib as unknown as { createZstdCompress: (options: object) => Compressor }).createZstdCompress
      return create({
        params: {
          [constants.ZSTD_c_compressionLevel as number]: tuning.level ?? 1,
          [constants.ZSTD_c_windowLog as number]: tuning.window ?? 18
        }
      })
    },
    get flushKind () {
      return (zlib.constants as unknown as Record<string, number>).ZSTD_e_flush as number
    }
  }
}

/** Receives the frames a compressor produces, in order. */
export interface FrameSink {
  /** Writes one compressed frame; resolves as a stream write does. */
  frame: (frame: Buffer) => Promise<boolean>
  /** The compressor failed; the stream must end. */
  fail: (error: Error) => void
}

// Writes that share one flush, and their size.
interface Batch {
  resolvers: Array<(written: boolean) => void>
  bytes: number
}

/**
 * A stateful compressor for one stream. Every `write()` is followed by a
 * dictionary-keeping flush (at once, or after the coalescing window), and the
 * bytes of that flush go to the sink as one frame.
 */
export class FrameCompressor {
  readonly encoding: Encoding
  readonly #zlib: Compressor
  readonly #flushKind: number
  readonly #coalesce: number | false
  readonly #sink: FrameSink
  #chunks: Buffer[] = []
  #timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  #waiting: Batch = { resolvers: [], bytes: 0 }
  // Writes whose flush is under way, so a failure or destroy can settle them too.
  readonly #flushing = new Set<Batch>()
  #pendingBytes = 0
  #onIdle: (() => void) | null = null
  #failed = false

  constructor (compression: StreamCompression, sink: FrameSink) {
    const flavour = flavours[compression.encoding]
    this.encoding = compression.encoding
    this.#zlib = flavour.create(compression[compression.encoding] ?? {})
    this.#flushKind = flavour.flushKind
    this.#coalesce = compression.coalesce ?? false
    this.#sink = sink
    this.#zlib.on('data', (chunk: Buffer) => { this.#chunks.push(chunk) })
    this.#zlib.on('error', this.#fail)
  }

  /** Bytes written to the compressor whose frame has not reached the sink yet. */
  get pendingBytes (): number {
    return this.#pendingBytes
  }

  /** Runs `callback` once, when every pending write has reached the sink. */
  whenIdle (callback: () => void): void {
    if (this.#pendingBytes === 0) queueMicrotask(callback)
    else this.#onIdle = callback
  }

  /** Compresses `text`; resolves once the frame holding it is written. */
  write (text: string | Buffer): Promise<boolean> {
    if (this.#failed) return Promise.resolve(false)
    this.#zlib.write(text)
    const bytes = Buffer.byteLength(text)
    this.#waiting.bytes += bytes
    this.#pendingBytes += bytes
    const written = new Promise<boolean>((resolve) => { this.#waiting.resolvers.push(resolve) })
    if (this.#coalesce === false) {
      this.#flush()
    } else if (this.#timer === null) {
      this.#timer = this.#coalesce === 0 ? setImmediate(this.#flush) : setTimeout(this.#flush, this.#coalesce)
    }
    return written
  }

  /** Ends compression; resolves with the last bytes, after every earlier frame went to the sink. */
  finish (): Promise<Buffer> {
    this.#clearTimer()
    return new Promise((resolve) => {
      this.#zlib.once('end', () => {
        const last = Buffer.concat(this.#chunks)
        this.#chunks = []
        this.#release(true)
        resolve(last)
      })
      this.#zlib.end()
    })
  }

  /** Drops everything: the client is gone. Pending writes resolve false. */
  destroy (): void {
    this.#clearTimer()
    this.#failed = true
    this.#release(false)
    this.#zlib.destroy()
  }

  readonly #flush = (): void => {
    this.#timer = null
    const batch = this.#waiting
    this.#waiting = { resolvers: [], bytes: 0 }
    this.#flushing.add(batch)
    // A flush is a write: a broken compressor answers it with an error.
    const flushed = (error?: Error | null): void => {
      if (error != null) this.#fail(error)
      if (!this.#flushing.delete(batch)) return
      const frame = Buffer.concat(this.#chunks)
      this.#chunks = []
      const written = frame.length > 0 ? this.#sink.frame(frame) : Promise.resolve(true)
      this.#settled(batch.bytes)
      written.then((result) => { for (const resolve of batch.resolvers) resolve(result) }, () => {})
    }
    this.#zlib.flush(this.#flushKind, flushed as () => void)
  }

  readonly #fail = (error: Error): void => {
    if (this.#failed) return
    this.#failed = true
    this.#release(false)
    this.#sink.fail(new FST_ERR_SSE_COMPRESSION(this.encoding, error.message))
  }

  #clearTimer (): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer as NodeJS.Timeout)
    clearImmediate(this.#timer as NodeJS.Immediate)
    this.#timer = null
  }

  #settled (bytes: number): void {
    this.#pendingBytes -= bytes
    if (this.#pendingBytes > 0 || this.#onIdle === null) return
    const onIdle = this.#onIdle
    this.#onIdle = null
    onIdle()
  }

  #release (written: boolean): void {
    const batches = [this.#waiting, ...this.#flushing]
    this.#waiting = { resolvers: [], bytes: 0 }
    this.#flushing.clear()
    this.#pendingBytes = 0
    this.#onIdle = null
    for (const batch of batches) for (const resolve of batch.resolvers) resolve(written)
  }
}
