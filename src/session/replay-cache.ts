// One-time use of message IDs (SAML assertion and LogoutRequest IDs): the first claim of a key wins,
// every later claim within its lifetime loses. It lives beside the sessions: in process memory with
// the memory store (one replica), in Redis with the Redis store, so a response replayed against
// another replica is refused too.
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';

export interface ReplayCache {
  /**
   * Resolves true the first time `key` is claimed, false when it was claimed before and has not
   * expired. Claims last `ttlMs` (at least one second). Rejects when the cache cannot answer: the
   * caller must then refuse, never accept.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Stops background work (the memory cache's sweeper); the Redis connection belongs to the session backend. */
  close(): void;
}

const MIN_TTL_MS = 1_000;
const SWEEP_INTERVAL_MS = 60_000;

export class ReplayCacheFull extends Error {
  override readonly name = 'ReplayCacheFull';
}

/**
 * Bounded, expiring, one process. When it is full of unexpired claims it refuses new ones instead
 * of evicting: forgetting a live claim would let that message be replayed. Only verified messages
 * are claimed, so filling it takes that many genuine logins within their validity window.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #expiries = new Map<string, number>();
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { clock: Clock; maxEntries?: number }) {
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#sweeper = setInterval(() => this.sweepExpired(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#clock.now();
    const expiresAt = this.#expiries.get(key);
    if (expiresAt !== undefined && expiresAt > now) return Promise.resolve(false);
    if (expiresAt === undefined && this.#expiries.size >= this.#maxEntries) {
      this.sweepExpired();
      if (this.#expiries.size >= this.#maxEntries) {
        return Promise.reject(new ReplayCacheFull(`replay cache holds ${this.#maxEntries} live claims`));
      }
    }
    this.#expiries.set(key, now + Math.max(MIN_TTL_MS, ttlMs));
    return Promise.resolve(true);
  }

  get size(): number {
    return this.#expiries.size;
  }

  sweepExpired(): void {
    const now = this.#clock.now();
    for (const [key, expiresAt] of this.#expiries) if (expiresAt <= now) this.#expiries.delete(key);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}

/** SET key NX PX: atomic across every replica sharing the Redis; Redis expires the claim itself. */
export class RedisReplayCache implements ReplayCache {
  readonly #client: Redis;
  readonly #keyPrefix: string;

  constructor(options: { client: Redis; keyPrefix: string }) {
    this.#client = options.client;
    this.#keyPrefix = options.keyPrefix;
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const answer = await this.#client.set(
      `${this.#keyPrefix}replay:${key}`,
      '1',
      'PX',
      Math.max(MIN_TTL_MS, Math.ceil(ttlMs)),
      'NX',
    );
    return answer === 'OK';
  }

  close(): void {}
}

/** The replay cache that goes with the session store: Redis when sessions are in Redis, else memory. */
export function createReplayCache(
  redis: Redis | null,
  options: { keyPrefix: string; clock: Clock },
): ReplayCache {
  return redis === null
    ? new MemoryReplayCache({ clock: options.clock })
    : new RedisReplayCache({ client: redis, keyPrefix: options.keyPrefix });
}
