/** A promise with its resolver, for waits that another event ends. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

/**
 * A promise and the function that resolves it (Promise.withResolvers, which
 * Node 20 lacks, without `reject`: these waits never fail).
 * @example const drained = deferred<boolean>(); socket.once('drain', () => drained.resolve(true))
 */
export function deferred<T = void> (): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}
