// Sessions shared by every replica through Redis: connect-redis 8.1 (the last line that takes an
// ioredis client) for express-session, plus a reader for the hot path over the same keys.
import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import type { Clock } from '../../core/clock.js';
import type { SessionReader } from '../session-reader.js';
import { storeTtlMs, type SessionTimeouts, type StoredSessionRecord } from '../session-data.js';

/** Extend a session's TTL in Redis at most this often per session (EXPIRE per request would double the load). */
const EXTEND_EVERY_MS = 30_000;
const MAX_TRACKED_EXTENSIONS = 200_000;

export interface RedisSessionBackend {
  store: RedisStore;
  reader: SessionReader;
  client: Redis;
}

export function createRedisSessionBackend(options: {
  url: string;
  keyPrefix: string;
  timeouts: SessionTimeouts;
  clock: Clock;
}): RedisSessionBackend {
  const client = new Redis(options.url, {
    // Fail fast while Redis is away instead of queueing requests without bound.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
  });
  const ttlSeconds = (record: StoredSessionRecord) =>
    Math.ceil(storeTtlMs(record, options.timeouts, options.clock.now()) / 1000);
  const store = new RedisStore({
    client,
    prefix: `${options.keyPrefix}sess:`,
    ttl: (data: SessionData) => ttlSeconds(data as StoredSessionRecord),
  });

  const extendedAt = new Map<string, number>();
  const reader: SessionReader = {
    async read(sid) {
      const data = (await store.get(sid)) as StoredSessionRecord | null | undefined;
      return data ?? undefined;
    },
    extend(sid, record) {
      const now = options.clock.now();
      const last = extendedAt.get(sid);
      if (last !== undefined && now - last < EXTEND_EVERY_MS) return;
      if (extendedAt.size >= MAX_TRACKED_EXTENSIONS) extendedAt.clear();
      extendedAt.set(sid, now);
      const ttl = ttlSeconds(record);
      if (ttl > 0) client.expire(`${options.keyPrefix}sess:${sid}`, ttl).catch(() => extendedAt.delete(sid));
    },
  };
  return { store, reader, client };
}
