// The embedded session store: one process, bounded, expiring. Records are kept frozen (set() copies
// and freezes; get() hands out a shallow copy, because express-session reassigns `cookie` on the
// object it gets), so nothing outside the store can change a stored session without set().
import session from 'express-session';
import type { Clock } from '../../core/clock.js';
import { storeTtlMs, type SessionTimeouts, type StoredSessionRecord } from '../session-data.js';

interface Entry {
  record: Readonly<StoredSessionRecord>;
  expiresAt: number;
  extendedAt: number;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

const SWEEP_INTERVAL_MS = 60_000;
/** The hot path calls extend() on every request; re-inserting (for eviction order) at most this often keeps it cheap. */
const EXTEND_EVERY_MS = 10_000;

export class MemorySessionStore extends session.Store {
  // A Map iterates in insertion order; set() and touch() re-insert, so the first entry is the least
  // recently written one: the one to evict when full.
  readonly #entries = new Map<string, Entry>();
  readonly #maxSessions: number;
  readonly #timeouts: SessionTimeouts;
  readonly #clock: Clock;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { maxSessions: number; timeouts: SessionTimeouts; clock: Clock }) {
    super();
    this.#maxSessions = options.maxSessions;
    this.#timeouts = options.timeouts;
    this.#clock = options.clock;
    this.#sweeper = setInterval(() => this.sweepExpired(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Synchronous read for the hot path; undefined when absent or expired. */
  read(sid: string): Readonly<StoredSessionRecord> | undefined {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(sid);
      return undefined;
    }
    return entry.record;
  }

  /** Extends the idle window; the absolute end still caps it. */
  extend(sid: string): void {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return;
    const now = this.#clock.now();
    // An expired record the sweeper has not reached yet stays expired, as an expired Redis key does.
    if (entry.expiresAt <= now) {
      this.#entries.delete(sid);
      return;
    }
    if (now - entry.extendedAt < EXTEND_EVERY_MS) return;
    entry.expiresAt = now + storeTtlMs(entry.record, this.#timeouts, now);
    entry.extendedAt = now;
    this.#entries.delete(sid);
    this.#entries.set(sid, entry);
  }

  override get(sid: string, callback: Callback<session.SessionData | null>): void {
    const record = this.read(sid);
    callback(null, record === undefined ? null : ({ ...record } as session.SessionData));
  }

  override set(sid: string, data: session.SessionData, callback?: Callback): void {
    const now = this.#clock.now();
    // JSON round trip: the same serialisation Redis applies, so both stores behave alike.
    const record = deepFreeze(JSON.parse(JSON.stringify(data)) as StoredSessionRecord);
    const ttlMs = storeTtlMs(record, this.#timeouts, now);
    this.#entries.delete(sid);
    if (ttlMs > 0) {
      this.#entries.set(sid, { record, expiresAt: now + ttlMs, extendedAt: now });
      this.#evictBeyondCapacity();
    }
    callback?.();
  }

  override touch(sid: string, _data: session.SessionData, callback?: Callback): void {
    this.extend(sid);
    callback?.();
  }

  override destroy(sid: string, callback?: Callback): void {
    this.#entries.delete(sid);
    callback?.();
  }

  override length(callback: Callback<number>): void {
    callback(null, this.#entries.size);
  }

  override clear(callback?: Callback): void {
    this.#entries.clear();
    callback?.();
  }

  get size(): number {
    return this.#entries.size;
  }

  sweepExpired(): void {
    const now = this.#clock.now();
    for (const [sid, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(sid);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #evictBeyondCapacity(): void {
    while (this.#entries.size > this.#maxSessions) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) return;
      this.#entries.delete(oldest.value);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
