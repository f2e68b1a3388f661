/**
 * Small records that every node of a cluster can read, each with an expiry:
 * what RPC sessions keep across nodes (a page that reconnects to another node
 * resumes its session there). A backplane offers one as `store`: in memory
 * for nodes of one process, in Redis for nodes anywhere.
 */
import type { Redis } from 'ioredis'

/**
 * Records shared by the nodes of a cluster: strings by key, and sets of
 * strings, each living `ttl` ms from its last write or `expire()`.
 * @example await backplane.store?.set('rpc:session:abc', '{"node":"a"}', 120_000)
 */
export interface SharedStore {
  /** Sets `key` to `value` for `ttl` ms. */
  set: (key: string, value: string, ttl: number) => Promise<void>
  /** The value of `key`, or undefined when it is not set or expired. */
  get: (key: string) => Promise<string | undefined>
  /** Removes `key` (a value or a set). */
  delete: (key: string) => Promise<void>
  /** Gives each key that exists (value or set) `ttl` more ms from now. */
  expire: (keys: readonly string[], ttl: number) => Promise<void>
  /** Adds `member` to the set `key`, which then lives `ttl` ms from now. */
  add: (key: string, member: string, ttl: number) => Promise<void>
  /** Removes `member` from the set `key`. */
  remove: (key: string, member: string) => Promise<void>
  /** The members of the set `key` (none when it is not set or expired). */
  members: (key: string) => Promise<string[]>
}

/**
 * The store of nodes that share one process (a `MemoryBackplane`'s).
 * @example const store = new MemoryStore(); await store.set('a', '1', 1000)
 */
export class MemoryStore implements SharedStore {
  readonly #entries = new Map<string, { value: string | Set<string>, expires: number }>()

  async set (key: string, value: string, ttl: number): Promise<void> {
    this.#entries.set(key, { value, expires: Date.now() + ttl })
  }

  async get (key: string): Promise<string | undefined> {
    const value = this.#live(key)?.value
    return typeof value === 'string' ? value : undefined
  }

  async delete (key: string): Promise<void> {
    this.#entries.delete(key)
  }

  async expire (keys: readonly string[], ttl: number): Promise<void> {
    for (const key of keys) {
      const entry = this.#live(key)
      if (entry !== undefined) entry.expires = Date.now() + ttl
    }
  }

  async add (key: string, member: string, ttl: number): Promise<void> {
    const entry = this.#live(key)
    if (entry !== undefined && typeof entry.value !== 'string') {
      entry.value.add(member)
      entry.expires = Date.now() + ttl
    } else {
      this.#entries.set(key, { value: new Set([member]), expires: Date.now() + ttl })
    }
  }

  async remove (key: string, member: string): Promise<void> {
    const value = this.#live(key)?.value
    if (typeof value !== 'string') value?.delete(member)
  }

  async members (key: string): Promise<string[]> {
    const value = this.#live(key)?.value
    return typeof value === 'string' || value === undefined ? [] : [...value]
  }

  // The entry of `key` unless it expired (then it is forgotten).
  #live (key: string): { value: string | Set<string>, expires: number } | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.expires > Date.now()) return entry
    this.#entries.delete(key)
    return undefined
  }
}

/** Runs a command on a Redis connection, as the backplane runs its own (errors coded, abandoned at close). */
export type RedisCommand = <T>(what: string, run: (redis: Redis) => Promise<T>) => Promise<T>

/**
 * The store in Redis, on a backplane's command connection: values are
 * strings with PX, sets are Redis sets with PEXPIRE; keys start with `prefix`.
 * @example const store = redisStore((what, run) => run(redis), 'fastify-datastar:')
 */
export function redisStore (command: RedisCommand, prefix: string): SharedStore {
  return {
    set: async (key, value, ttl) => { await command('store.set', (redis) => redis.set(prefix + key, value, 'PX', ttl)) },
    get: async (key) => (await command('store.get', (redis) => redis.get(prefix + key))) ?? undefined,
    delete: async (key) => { await command('store.delete', (redis) => redis.del(prefix + key)) },
    expire: async (keys, ttl) => {
      if (keys.length === 0) return
      await command('store.expire', async (redis) => {
        const pipeline = redis.pipeline()
        for (const key of keys) pipeline.pexpire(prefix + key, ttl)
        const results = await pipeline.exec()
        const failed = results?.find(([error]) => error !== null)?.[0]
        if (failed != null) throw failed
      })
    },
    add: async (key, member, ttl) => {
      await command('store.add', async (redis) => { await redis.multi().sadd(prefix + key, member).pexpire(prefix + key, ttl).exec() })
    },
    remove: async (key, member) => { await command('store.remove', (redis) => redis.srem(prefix + key, member)) },
    members: async (key) => await command('store.members', (redis) => redis.smembers(prefix + key))
  }
}
