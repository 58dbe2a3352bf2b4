// A small in-process cache of session records read from a shared store (Redis), so the hot path
// does not pay a network round trip per request. Staleness is bounded twice: every entry lives at
// most `ttlMs`, and changes (logout, login, revocation) are pushed to every replica, which drops
// the entry at once (see stores/redis-store.ts). A read that raced such a change is not cached:
// each invalidation bumps a generation, and a record read before it is thrown away.
import { BoundedMap } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';
import type { StoredSessionRecord } from './session-data.js';

interface CachedRecord {
  record: Readonly<StoredSessionRecord>;
  expiresAt: number;
}

export class SessionCache {
  // Insertion order is age order (put() re-inserts): beyond maxEntries the oldest entry goes first.
  readonly #entries: BoundedMap<string, CachedRecord>;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  #generation = 0;
  #enabled = true;

  constructor(options: { ttlMs: number; maxEntries: number; clock: Clock }) {
    this.#ttlMs = options.ttlMs;
    this.#entries = new BoundedMap(options.maxEntries);
    this.#clock = options.clock;
  }

  /** A fresh cached record, or undefined (absent, too old, or the cache is off). */
  get(sid: string): Readonly<StoredSessionRecord> | undefined {
    const cached = this.#entries.get(sid);
    if (cached === undefined) return undefined;
    if (cached.expiresAt > this.#clock.now()) return cached.record;
    this.#entries.delete(sid);
    return undefined;
  }

  /** Take before reading the store; pass to put() with what the read returned. */
  generation(): number {
    return this.#generation;
  }

  /** Caches a record read from the store, unless something changed since the read began. */
  put(sid: string, record: Readonly<StoredSessionRecord>, readStartedAt: number): void {
    if (!this.#enabled || this.#ttlMs <= 0 || readStartedAt !== this.#generation) return;
    this.#entries.setNewest(sid, { record, expiresAt: this.#clock.now() + this.#ttlMs });
  }

  /** The session changed or ended somewhere: forget it here. */
  invalidate(sid: string): void {
    this.#generation += 1;
    this.#entries.delete(sid);
  }

  /**
   * While changes cannot be heard (the notification channel is down), nothing is cached and
   * nothing cached is used: every read goes to the store.
   */
  setEnabled(enabled: boolean): void {
    this.#generation += 1;
    this.#enabled = enabled;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
