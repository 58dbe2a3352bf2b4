// The embedded session store: one process, bounded, expiring. Each record is kept as its JSON text
// (the same serialisation Redis applies), which is about half the memory of the parsed object graph:
// 100 k sessions must fit in a small gateway. The hot path reads parsed, frozen records from a
// bounded cache of recently used sessions, so a busy session is parsed once, not per request;
// express-session's get() gets a fresh copy, so nothing outside the store can change a stored
// session without set().
import session from 'express-session';
import { BoundedMap } from '../../core/bounded-map.js';
import type { Clock } from '../../core/clock.js';
import { deepFreeze } from '../../core/deep-freeze.js';
import { storeTtlMs, type SessionTimeouts, type StoredSessionRecord } from '../session-data.js';

/** One stored session. A class, so every entry has the same compact shape (no per-object property maps). */
class Entry {
  /** The record without its cookie. */
  readonly json: string;
  /** The cookie's settings without `expires`, as JSON: one shared string for all sessions alike. */
  readonly cookie: string | undefined;
  /** The cookie's `expires` (epoch ms), null when it has none, undefined when the record has no cookie. */
  readonly cookieExpires: number | null | undefined;
  expiresAt: number;
  extendedAt: number;

  constructor(
    json: string,
    cookie: string | undefined,
    cookieExpires: number | null | undefined,
    expiresAt: number,
    extendedAt: number,
  ) {
    this.json = json;
    this.cookie = cookie;
    this.cookieExpires = cookieExpires;
    this.expiresAt = expiresAt;
    this.extendedAt = extendedAt;
  }
}

/** Distinct cookie settings worth sharing; beyond this many, each entry keeps its own copy. */
const MAX_COOKIE_SHAPES = 64;

type Callback<T = void> = (err?: unknown, value?: T) => void;

const SWEEP_INTERVAL_MS = 60_000;
/** The hot path calls extend() on every request; re-inserting (for eviction order) at most this often keeps it cheap. */
const EXTEND_EVERY_MS = 10_000;
/** Parsed records kept for the hot path: the sessions in active use, not all of them. */
const PARSED_CACHE_SIZE = 10_000;

export class MemorySessionStore extends session.Store {
  // Insertion-ordered; set() and touch() re-insert, so the first entry is the least recently written
  // one: the one evicted (with its parsed copy) beyond maxSessions.
  readonly #entries: BoundedMap<string, Entry>;
  // Beyond PARSED_CACHE_SIZE the oldest parse is dropped (re-parsed on next use).
  readonly #parsed = new BoundedMap<string, Readonly<StoredSessionRecord>>(PARSED_CACHE_SIZE);
  // express-session stores the same cookie settings in every session; keeping them once saves ~100
  // bytes per session (a tenth of the store's memory).
  readonly #cookieShapes = new Map<string, string>();
  readonly #timeouts: SessionTimeouts;
  readonly #clock: Clock;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { maxSessions: number; timeouts: SessionTimeouts; clock: Clock }) {
    super();
    this.#entries = new BoundedMap(options.maxSessions, (sid) => this.#forget(sid));
    this.#timeouts = options.timeouts;
    this.#clock = options.clock;
    this.#sweeper = setInterval(() => this.sweepExpired(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Synchronous read for the hot path: a frozen record, undefined when absent or expired. */
  read(sid: string): Readonly<StoredSessionRecord> | undefined {
    const entry = this.#liveEntry(sid);
    if (entry === undefined) return undefined;
    let record = this.#parsed.get(sid);
    if (record === undefined) {
      record = deepFreeze(JSON.parse(entry.json) as StoredSessionRecord);
      this.#parsed.set(sid, record);
    }
    return record;
  }

  /** Extends the idle window; the absolute end still caps it. */
  extend(sid: string): void {
    const entry = this.#liveEntry(sid);
    if (entry === undefined) return;
    const now = this.#clock.now();
    if (now - entry.extendedAt < EXTEND_EVERY_MS) return;
    entry.expiresAt = now + storeTtlMs(this.read(sid) ?? {}, this.#timeouts, now);
    entry.extendedAt = now;
    this.#entries.setNewest(sid, entry);
  }

  override get(sid: string, callback: Callback<session.SessionData | null>): void {
    const entry = this.#liveEntry(sid);
    if (entry === undefined) return callback(null, null);
    const data = JSON.parse(entry.json) as StoredSessionRecord;
    if (entry.cookie !== undefined) {
      const cookie = JSON.parse(entry.cookie) as Record<string, unknown>;
      if (entry.cookieExpires !== undefined)
        cookie.expires = entry.cookieExpires === null ? null : new Date(entry.cookieExpires).toISOString();
      data.cookie = cookie;
    }
    callback(null, data as session.SessionData);
  }

  override set(sid: string, data: session.SessionData, callback?: Callback): void {
    const now = this.#clock.now();
    // The JSON round trip is the serialisation Redis applies (express-session's Cookie has toJSON).
    const { cookie, ...record } = JSON.parse(JSON.stringify(data)) as StoredSessionRecord;
    const ttlMs = storeTtlMs(record, this.#timeouts, now);
    this.#forget(sid);
    if (ttlMs > 0) {
      const [cookieShape, cookieExpires] = this.#splitCookie(cookie);
      // #forget above removed any older entry, so this one is the newest; beyond maxSessions the
      // least recently written goes.
      this.#entries.set(
        sid,
        new Entry(flat(JSON.stringify(record)), cookieShape, cookieExpires, now + ttlMs, now),
      );
    }
    callback?.();
  }

  override touch(sid: string, _data: session.SessionData, callback?: Callback): void {
    this.extend(sid);
    callback?.();
  }

  override destroy(sid: string, callback?: Callback): void {
    this.#forget(sid);
    callback?.();
  }

  override length(callback: Callback<number>): void {
    callback(null, this.#entries.size);
  }

  override clear(callback?: Callback): void {
    this.#entries.clear();
    this.#parsed.clear();
    callback?.();
  }

  get size(): number {
    return this.#entries.size;
  }

  sweepExpired(): void {
    const now = this.#clock.now();
    for (const [sid, entry] of this.#entries) if (entry.expiresAt <= now) this.#forget(sid);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #splitCookie(cookie: unknown): [shape: string | undefined, expires: number | null | undefined] {
    if (cookie === null || typeof cookie !== 'object') return [undefined, undefined];
    const { expires, ...settings } = cookie as { expires?: unknown };
    const text = JSON.stringify(settings);
    let shared = this.#cookieShapes.get(text);
    if (shared === undefined && this.#cookieShapes.size < MAX_COOKIE_SHAPES) {
      this.#cookieShapes.set(text, text);
      shared = text;
    }
    const parsedExpires = typeof expires === 'string' ? Date.parse(expires) : NaN;
    return [
      shared ?? text,
      expires === undefined ? undefined : Number.isNaN(parsedExpires) ? null : parsedExpires,
    ];
  }

  /** The entry while it lives; an expired one the sweeper has not reached yet is dropped here, as Redis would. */
  #liveEntry(sid: string): Entry | undefined {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#clock.now()) return entry;
    this.#forget(sid);
    return undefined;
  }

  #forget(sid: string): void {
    this.#entries.delete(sid);
    this.#parsed.delete(sid);
  }
}

/**
 * The same text as one contiguous string. V8's JSON.stringify returns a rope of its buffer chunks,
 * ~150 bytes more than the text itself: a tenth of a session, kept for the session's lifetime.
 */
function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
