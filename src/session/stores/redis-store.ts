// Sessions shared by every replica through Redis: connect-redis 8.1 (the last line that takes an
// ioredis client) for express-session, plus a reader for the hot path over the same keys, with a
// short-lived in-process cache in front of it (session-cache.ts).
//
// Revocation stays immediate with the cache: every write or delete of a session (login, logout,
// SAML single logout) is announced on a Redis pub/sub channel before express-session's callback
// runs, and each replica drops its cached copy on the message. While a replica's subscription is
// down it cannot hear those messages, so it stops caching until it is subscribed again.
import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import type { Clock } from '../../core/clock.js';
import { deepFreeze } from '../../core/deep-freeze.js';
import type { Logger } from '../../observability/logger.js';
import { SessionCache } from '../session-cache.js';
import type { SessionReader } from '../session-reader.js';
import { storeTtlMs, type SessionTimeouts, type StoredSessionRecord } from '../session-data.js';

/** Extend a session's TTL in Redis at most this often per session (EXPIRE per request would double the load). */
const EXTEND_EVERY_MS = 30_000;
const MAX_TRACKED_EXTENSIONS = 200_000;

export interface RedisSessionBackend {
  store: RedisStore;
  reader: SessionReader;
  client: Redis;
  close: () => Promise<void>;
}

export interface RedisSessionOptions {
  url: string;
  keyPrefix: string;
  cache: { ttl: number; maxEntries: number };
  timeouts: SessionTimeouts;
  clock: Clock;
  log: Logger;
}

type Callback = (err?: unknown, value?: unknown) => void;

/** connect-redis, announcing every change to a session before telling express-session it is done. */
class AnnouncingRedisStore extends RedisStore {
  readonly #announce: (sid: string) => Promise<void>;

  constructor(
    options: ConstructorParameters<typeof RedisStore>[0],
    announce: (sid: string) => Promise<void>,
  ) {
    super(options);
    this.#announce = announce;
  }

  override async set(sid: string, sess: SessionData, cb?: Callback): Promise<void> {
    await this.#afterChange(sid, () => super.set(sid, sess), cb);
  }

  override async destroy(sid: string, cb?: Callback): Promise<void> {
    await this.#afterChange(sid, () => super.destroy(sid), cb);
  }

  async #afterChange(sid: string, change: () => Promise<unknown>, cb: Callback | undefined): Promise<void> {
    try {
      await change();
    } catch (err) {
      if (cb === undefined) throw err;
      cb(err);
      return;
    }
    await this.#announce(sid);
    cb?.();
  }
}

export function createRedisSessionBackend(options: RedisSessionOptions): RedisSessionBackend {
  const client = new Redis(options.url, {
    // Fail fast while Redis is away instead of queueing requests without bound.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
  });
  reportConnectionHealth(client, options.log);
  const sessionPrefix = `${options.keyPrefix}sess:`;
  const channel = `${options.keyPrefix}session-changed`;
  const cache = new SessionCache({
    ttlMs: options.cache.ttl,
    maxEntries: options.cache.maxEntries,
    clock: options.clock,
  });
  const subscriber = options.cache.ttl > 0 ? subscribeToChanges(client, channel, cache) : null;
  if (subscriber === null) cache.setEnabled(false);

  const ttlSeconds = (record: StoredSessionRecord) =>
    Math.ceil(storeTtlMs(record, options.timeouts, options.clock.now()) / 1000);
  const store = new AnnouncingRedisStore(
    { client, prefix: sessionPrefix, ttl: (data: SessionData) => ttlSeconds(data) },
    async (sid) => {
      cache.invalidate(sid);
      if (subscriber === null) return;
      // A lost announcement only delays revocation on other replicas by the cache TTL: never fail
      // the login or logout for it, but say so.
      await client.publish(channel, sid).catch((err: unknown) => {
        options.log.warn(
          { err, channel, cacheTtlMs: options.cache.ttl },
          'session change not announced: other replicas may use their cached copy until it expires',
        );
      });
    },
  );

  const extendedAt = new Map<string, number>();
  const reader: SessionReader = {
    read(sid) {
      const cached = cache.get(sid);
      if (cached !== undefined) return cached;
      const generation = cache.generation();
      return (store.get(sid) as Promise<StoredSessionRecord | null | undefined>).then((data) => {
        if (data === null || data === undefined) return undefined;
        const record = deepFreeze(data);
        cache.put(sid, record, generation);
        return record;
      });
    },
    extend(sid, record) {
      const now = options.clock.now();
      const last = extendedAt.get(sid);
      if (last !== undefined && now - last < EXTEND_EVERY_MS) return;
      if (extendedAt.size >= MAX_TRACKED_EXTENSIONS) extendedAt.clear();
      extendedAt.set(sid, now);
      const ttl = ttlSeconds(record);
      if (ttl > 0) client.expire(`${sessionPrefix}${sid}`, ttl).catch(() => extendedAt.delete(sid));
    },
  };

  return {
    store,
    reader,
    client,
    async close() {
      if (subscriber !== null) await subscriber.quit().catch(() => subscriber.disconnect());
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * ioredis retries a lost connection on its own and emits 'error' for every failed attempt (without
 * a listener it prints each one to stderr). Log the first failure and the recovery, once each.
 */
function reportConnectionHealth(client: Redis, log: Logger): void {
  let failing = false;
  client.on('error', (err: unknown) => {
    if (failing) return;
    failing = true;
    log.warn({ err }, 'session store: Redis connection failed; retrying (readyz reports it)');
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    log.info('session store: Redis connection back');
  });
}

/** A second connection (subscribers can do nothing else) that drops cached sessions others changed. */
function subscribeToChanges(client: Redis, channel: string, cache: SessionCache): Redis {
  const subscriber = client.duplicate();
  cache.setEnabled(false); // until subscribed: nothing cached that a missed message could leave stale
  subscriber.on('message', (from: string, sid: string) => {
    if (from === channel) cache.invalidate(sid);
  });
  // ioredis re-subscribes on reconnect; messages sent while it was away are lost, so the cache
  // starts empty each time the subscription is back.
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => cache.setEnabled(true),
      () => cache.setEnabled(false),
    );
  });
  subscriber.on('close', () => cache.setEnabled(false));
  subscriber.on('error', () => {}); // reported by the command connection's health (readyz)
  return subscriber;
}
