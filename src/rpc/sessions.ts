/**
 * The sessions of an RPC server: created on a page's first connect, resumed
 * with their token after a reconnect, kept `sessionTtl` ms once disconnected
 * (at most `maxRetained` of them), then expired.
 */
import { RpcError } from './browser/peer.js'
import { RpcErrorCode } from './browser/protocol.js'
import type { RpcSession } from './session.js'

/** How long disconnected sessions are kept, and how many. */
export interface RetentionOptions {
  sessionTtl: number
  maxRetained: number
}

/**
 * The sessions, connected or retained.
 * @example const store = new SessionStore({ sessionTtl: 120_000, maxRetained: 10_000 }, (session, moved) => { if (!moved) onExpire(session) })
 */
export class SessionStore<S extends RpcSession<any, any>> {
  readonly #options: RetentionOptions
  readonly #onEnd: (session: S, moved: boolean) => void
  readonly #sessions = new Map<string, S>()
  // Disconnected sessions, oldest first (a Map keeps insertion order), with their expiry timers.
  readonly #retained = new Map<S, ReturnType<typeof setTimeout>>()

  /** `onEnd` hears every session that ends, and whether it lives on in another node (`moved`). */
  constructor (options: RetentionOptions, onEnd: (session: S, moved: boolean) => void) {
    this.#options = options
    this.#onEnd = onEnd
  }

  /** Every session, connected or retained. */
  values (): IterableIterator<S> {
    return this.#sessions.values()
  }

  get size (): number {
    return this.#sessions.size
  }

  /** The session with this id, if it has not expired. */
  get (id: string): S | undefined {
    return this.#sessions.get(id)
  }

  add (session: S): void {
    this.#sessions.set(session.id, session)
  }

  /**
   * The session a page resumes: the right token and the same principal, or
   * undefined (the page then starts a new session).
   */
  resume (id: string, token: string, principal: string | undefined): S | undefined {
    const session = this.#sessions.get(id)
    if (session === undefined || !session.tokenMatches(token) || session.principal !== principal) return undefined
    this.#keep(session)
    return session
  }

  /** A session's socket closed: keep it for a resume, or end it now when its page is gone. */
  disconnected (session: S, pageGone: boolean): void {
    if (pageGone) {
      this.expire(session, new RpcError(RpcErrorCode.DISCONNECTED, 'the page closed its session'))
      return
    }
    const timer = setTimeout(() => {
      this.expire(session, new RpcError(RpcErrorCode.EXPIRED, `the session was not resumed within ${this.#options.sessionTtl} ms`))
    }, this.#options.sessionTtl)
    timer.unref()
    this.#retained.set(session, timer)
    // The oldest retained sessions give way past the bound.
    for (const [oldest] of this.#retained) {
      if (this.#retained.size <= this.#options.maxRetained) break
      this.expire(oldest, new RpcError(RpcErrorCode.EXPIRED, `more than ${this.#options.maxRetained} sessions were waiting for a resume`))
    }
  }

  /**
   * Ends a session now. `moved`: it lives on in another node (its page
   * resumed there, or this node shuts down): no `onExpire`, and its socket,
   * if any, is closed with `closeCode`.
   */
  expire (session: S, reason: RpcError, moved?: { closeCode: number }): void {
    if (this.#sessions.get(session.id) !== session) return
    this.#keep(session)
    this.#sessions.delete(session.id)
    session.expire(reason, moved?.closeCode)
    this.#onEnd(session, moved !== undefined)
  }

  /** Ends every session (the server closes). */
  close (reason: RpcError): void {
    for (const session of [...this.#sessions.values()]) this.expire(session, reason)
  }

  // No longer waiting for a resume.
  #keep (session: S): void {
    const timer = this.#retained.get(session)
    if (timer === undefined) return
    clearTimeout(timer)
    this.#retained.delete(session)
  }
}
