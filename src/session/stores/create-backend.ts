// Picks the session store named in config. Adding a store kind to the schema breaks this table's
// type until the new kind is wired here.
import type session from 'express-session';
import type { Redis } from 'ioredis';
import type { SessionConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../observability/logger.js';
import type { SessionTimeouts } from '../session-data.js';
import type { SessionReader } from '../session-reader.js';
import { MemorySessionStore } from './memory-store.js';
import { createRedisSessionBackend } from './redis-store.js';

export interface SessionBackend {
  /** For express-session (gateway routes). */
  store: session.Store;
  /** For the hot path. */
  reader: SessionReader;
  /** The Redis connection when sessions live in Redis: rate limits and replay caches share it across replicas. */
  redis: Redis | null;
  /** /readyz: resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

type BackendDeps = { timeouts: SessionTimeouts; clock: Clock; log: Logger };

const backendFactories: Record<
  SessionConfig['store'],
  (config: SessionConfig, deps: BackendDeps) => SessionBackend
> = {
  memory(config, deps) {
    const store = new MemorySessionStore({
      maxSessions: config.memory.maxSessions,
      timeouts: deps.timeouts,
      clock: deps.clock,
    });
    return {
      store,
      reader: { read: (sid) => store.read(sid), extend: (sid) => store.extend(sid) },
      redis: null,
      ping: () => Promise.resolve(),
      close: () => {
        store.close();
        return Promise.resolve();
      },
    };
  },
  redis(config, deps) {
    if (config.redis === undefined) throw new Error('session.redis is required for the redis store');
    const { store, reader, client, close } = createRedisSessionBackend({ ...config.redis, ...deps });
    return {
      store,
      reader,
      redis: client,
      ping: async () => {
        await client.ping();
      },
      close,
    };
  },
};

export function createSessionBackend(config: SessionConfig, deps: BackendDeps): SessionBackend {
  return backendFactories[config.store](config, deps);
}
