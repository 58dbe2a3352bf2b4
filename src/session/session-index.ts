// A small secondary index from a key (e.g. a SAML provider + NameID) to the ids of the sessions it
// owns, so a message naming a subject (an IdP-initiated SAML LogoutRequest) can end that subject's
// sessions without the browser's cookie. Kept beside the sessions: memory with the memory store,
// a Redis set with the Redis store (every replica sees it).
//
// Limits, by design: entries are hints, not truth. Members are added at login and expire with the
// absolute session timeout; a session that ends otherwise (logout, idle timeout, eviction) stays
// listed until then, and readers must look the session up and skip ids that are gone. The memory
// index is bounded: beyond `maxKeys` the least recently written key is dropped, and its sessions can
// then no longer be ended through the index (they still end at their own timeouts).
import type { Redis } from 'ioredis';
import { BoundedMap } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';

export interface SessionIndex {
  add(key: string, sessionId: string, ttlMs: number): Promise<void>;
  /** The session ids listed under `key` (possibly including sessions that have ended since). */
  sessionIds(key: string): Promise<string[]>;
  remove(key: string, sessionId: string): Promise<void>;
  close(): void;
}

export class MemorySessionIndex implements SessionIndex {
  // Iteration order is insertion order; add() re-inserts, so the first key is the oldest write.
  readonly #entries: BoundedMap<string, Map<string, number>>;
  readonly #clock: Clock;

  constructor(options: { clock: Clock; maxKeys?: number }) {
    this.#clock = options.clock;
    this.#entries = new BoundedMap(options.maxKeys ?? 100_000);
  }

  add(key: string, sessionId: string, ttlMs: number): Promise<void> {
    const members = this.#live(key) ?? new Map<string, number>();
    members.set(sessionId, this.#clock.now() + ttlMs);
    this.#entries.setNewest(key, members);
    return Promise.resolve();
  }

  sessionIds(key: string): Promise<string[]> {
    return Promise.resolve([...(this.#live(key)?.keys() ?? [])]);
  }

  remove(key: string, sessionId: string): Promise<void> {
    const members = this.#entries.get(key);
    members?.delete(sessionId);
    if (members?.size === 0) this.#entries.delete(key);
    return Promise.resolve();
  }

  close(): void {}

  /** The key's unexpired members (expired ones are dropped on the way). */
  #live(key: string): Map<string, number> | undefined {
    const members = this.#entries.get(key);
    if (members === undefined) return undefined;
    const now = this.#clock.now();
    for (const [sessionId, expiresAt] of members) if (expiresAt <= now) members.delete(sessionId);
    if (members.size > 0) return members;
    this.#entries.delete(key);
    return undefined;
  }
}

/** One Redis set per key; every add extends the set's TTL to the newest member's. */
export class RedisSessionIndex implements SessionIndex {
  readonly #client: Redis;
  readonly #keyPrefix: string;

  constructor(options: { client: Redis; keyPrefix: string }) {
    this.#client = options.client;
    this.#keyPrefix = options.keyPrefix;
  }

  async add(key: string, sessionId: string, ttlMs: number): Promise<void> {
    const redisKey = this.#redisKey(key);
    await this.#client
      .multi()
      .sadd(redisKey, sessionId)
      .pexpire(redisKey, Math.max(1, Math.ceil(ttlMs)))
      .exec();
  }

  sessionIds(key: string): Promise<string[]> {
    return this.#client.smembers(this.#redisKey(key));
  }

  async remove(key: string, sessionId: string): Promise<void> {
    await this.#client.srem(this.#redisKey(key), sessionId);
  }

  close(): void {}

  #redisKey(key: string): string {
    return `${this.#keyPrefix}session-index:${key}`;
  }
}

export function createSessionIndex(
  redis: Redis | null,
  options: { keyPrefix: string; clock: Clock },
): SessionIndex {
  return redis === null
    ? new MemorySessionIndex({ clock: options.clock })
    : new RedisSessionIndex({ client: redis, keyPrefix: options.keyPrefix });
}
