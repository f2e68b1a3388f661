/**
 * The functions of an RPC server: those that run in the browser (called by
 * the server) and those the browser may call. Each table has a null
 * prototype, so `__proto__`, `constructor` or `toString` are not names.
 */

/** What a schema check answers: the value to use, or what is wrong. */
export type Check = { valid: true, value: unknown } | { valid: false, message: string }

/** Checks a value against a schema, for a session's request (the plugin's: that route's validator compiler). */
export type Checker<Request = unknown> = (schema: unknown, value: unknown, context: string, request: Request) => Check

/** A function that runs in the browser, as the server calls it. `Params` and `Result` are its types. */
export interface BrowserFunction<Params extends unknown[] = unknown[], Result = unknown> {
  readonly name: string
  /** JSON Schema of the argument list (a tuple). */
  readonly params: unknown
  /** JSON Schema of the result: a browser's answer is checked against it (the browser is untrusted). */
  readonly result: unknown
  /** Phantom types, for `session.call()`; never set. */
  readonly __types?: { params: Params, result: Result }
}

/** A function the browser may call by name. */
export interface ServerFunction<Session = unknown> {
  readonly name: string
  readonly params: unknown
  readonly result: unknown
  /** Gets the session, the checked arguments, and the call's context (its `signal`). */
  readonly handler: (session: Session, args: unknown[], context: { readonly signal: AbortSignal }) => unknown
}

/**
 * A table of functions by name with no prototype: only declared names are found.
 * @example const table = functionTable<ServerFunction>(); table.greet = greet
 */
export function functionTable<F> (): Record<string, F> {
  return Object.create(null) as Record<string, F>
}
