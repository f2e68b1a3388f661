/**
 * A session that lives on another node of the cluster: what a call to many
 * reports for it, and what `app.rpc.session(id)` gives for an id this node
 * does not hold. Its calls are routed to its node, which runs them on the
 * session (and checks the results) as its own.
 */
import type { CallOptions } from './browser/peer.js'
import { callTimeout, RpcError } from './browser/peer.js'
import { RpcErrorCode } from './browser/protocol.js'
import type { BrowserFunction } from './functions.js'
import type { RpcNodes } from './nodes.js'

/**
 * A session on another node.
 * @example const sum = await app.rpc.session(id)?.call(add, [1, 2])
 */
export class RemoteSession {
  /** The session id. */
  readonly id: string
  #node: string | undefined
  readonly #nodes: RpcNodes
  readonly #timeout: number

  constructor (id: string, node: string | undefined, nodes: RpcNodes, timeout: number) {
    this.id = id
    this.#node = node
    this.#nodes = nodes
    this.#timeout = timeout
  }

  /** The node it lived on when last seen (undefined until a call or a record said). */
  get node (): string | undefined {
    return this.#node
  }

  /**
   * Calls `fn` in the session's page, through its node; resolves with the
   * result its node checked, or rejects with an `RpcError` (expired: no node
   * holds the session; disconnected: its node left during the call).
   * @example const ok = await remote.call(confirm, ['Delete?'], { timeout: 30_000 })
   */
  async call<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallOptions = {}): Promise<Result> {
    const encoded = JSON.stringify(args)
    const timeout = callTimeout(options.timeout ?? this.#timeout, fn.name)
    if (timeout instanceof RpcError) throw timeout
    if (options.signal?.aborted === true) throw new RpcError(RpcErrorCode.CANCELLED, `call to ${fn.name} was cancelled`)
    this.#node ??= await this.#nodes.locate(this.id)
    if (this.#node === undefined) throw new RpcError(RpcErrorCode.EXPIRED, `no node holds session ${this.id}`)
    const call = this.#nodes.call(this.#node, this.id, fn.name, encoded, timeout)
    if (options.signal === undefined) return await call as Result
    // An abort stops the wait here; the page's call runs on to its deadline.
    const signal = options.signal
    let onAbort: () => void = () => {}
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(new RpcError(RpcErrorCode.CANCELLED, `call to ${fn.name} was cancelled`)) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([call, aborted]) as Result
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }
}
