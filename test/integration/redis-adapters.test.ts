// The Redis adapters against the same contract suites as the memory ones
// (test/unit/memory-adapters.test.ts): the Redis session backend without and with its in-process
// session cache, the Redis replay cache and the Redis session index. One private redis-server for
// the file (stopped in after(), which runs even when tests fail); every opened adapter gets its own
// key prefix and connection, closed after its test. Expiry is Redis's own, on the wall clock, with
// an idle timeout of two seconds; the suites wait for it by polling. Plus what only Redis can
// fail at: announcing a session change (PUBLISH refused by an ACL) is logged, not swallowed.
import { randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { sessionSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { RedisReplayCache } from '../../src/session/replay-cache.js';
import { RedisSessionIndex } from '../../src/session/session-index.js';
import { createSessionBackend, type SessionBackend } from '../../src/session/stores/create-backend.js';
import { realTime } from '../contract/contract-time.js';
import { replayCacheContract } from '../contract/replay-cache.contract.js';
import { sessionBackendContract } from '../contract/session-backend.contract.js';
import { sessionIndexContract } from '../contract/session-index.contract.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';

const redisBinary = requireBinary('redis-server', 'redis-server');
/** Redis keeps session TTLs in whole seconds (EX, EXPIRE). */
const SECOND = 1_000;
const TIMEOUTS = { idleMs: 2 * SECOND, absoluteMs: 60 * 60 * SECOND };
/** Real milliseconds past an expected expiry before a suite gives up: generous for a busy machine. */
const PATIENCE_MS = 30_000;

describe('Redis adapters', { skip: 'skip' in redisBinary ? redisBinary.skip : false }, () => {
  let redis: TestRedis | undefined;
  /** For what the adapters must not do themselves: deleting keys behind their backs. */
  let admin: Redis | undefined;
  const redisUrl = () => redis?.url ?? 'redis://127.0.0.1:1';

  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
  });
  after(async () => {
    admin?.disconnect();
    await redis?.close();
  });

  function openBackend(cacheTtlMs: number): { backend: SessionBackend; keyPrefix: string } {
    const keyPrefix = `contract-${randomUUID()}:`;
    const config = sessionSchema.parse({
      secret: randomBytes(32).toString('hex'),
      store: 'redis',
      redis: { url: redisUrl(), keyPrefix, cache: { ttl: `${cacheTtlMs}ms` } },
    });
    const backend = createSessionBackend(config, {
      timeouts: TIMEOUTS,
      clock: { now: () => Date.now() },
      log: createLogger({ level: 'silent' }),
    });
    return { backend, keyPrefix };
  }

  /**
   * The session cache starts switched off and switches on once its pub/sub subscription is up.
   * Waits until it answers from memory for a session that Redis no longer has, so the suite runs
   * against a cache that really caches. The probe record is written and removed behind the
   * backend's back: an announced write would reach this replica's own subscription and drop the copy.
   */
  async function waitForCache(backend: SessionBackend, keyPrefix: string): Promise<void> {
    const sid = `probe-${randomUUID()}`;
    const key = `${keyPrefix}sess:${sid}`;
    const probe = JSON.stringify({ cookie: { path: '/' }, identity: { subject: 'probe' } });
    await realTime(50).pollUntil(
      'the session cache to switch on',
      async () => {
        await admin?.set(key, probe, 'EX', 60);
        await backend.reader.read(sid);
        await admin?.del(key);
        return (await backend.reader.read(sid)) !== undefined;
      },
      Date.now() + PATIENCE_MS,
    );
    await new Promise<void>((resolve) => backend.store.destroy(sid, () => resolve()));
  }

  const backendParts = {
    time: realTime(),
    timeouts: TIMEOUTS,
    ttlGranularityMs: SECOND,
    patienceMs: PATIENCE_MS,
  };

  sessionBackendContract('Redis, no session cache', () => {
    const { backend } = openBackend(0);
    return Promise.resolve({ ...backendParts, backend, close: () => backend.close() });
  });

  sessionBackendContract('Redis with the session cache', async () => {
    const { backend, keyPrefix } = openBackend(60 * SECOND);
    try {
      await waitForCache(backend, keyPrefix);
    } catch (err) {
      await backend.close();
      throw err;
    }
    return { ...backendParts, backend, close: () => backend.close() };
  });

  replayCacheContract('Redis', () => {
    const client = new Redis(redisUrl());
    const cache = new RedisReplayCache({ client, keyPrefix: `contract-${randomUUID()}:` });
    return Promise.resolve({
      cache,
      time: realTime(),
      patienceMs: PATIENCE_MS,
      close: async () => {
        cache.close();
        await client.quit();
      },
    });
  });

  test('a session change that cannot be announced is logged, and the write still succeeds', async () => {
    // A Redis user that may do everything but PUBLISH: the announcement fails, nothing else does.
    const password = randomUUID();
    await admin?.call('ACL', 'SETUSER', 'no-publish', 'on', `>${password}`, '~*', '&*', '+@all', '-publish');
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((line) => line !== ''),
        );
        callback();
      },
    });
    const keyPrefix = `contract-${randomUUID()}:`;
    const url = new URL(redisUrl());
    url.username = 'no-publish';
    url.password = password;
    const backend = createSessionBackend(
      sessionSchema.parse({
        secret: randomBytes(32).toString('hex'),
        store: 'redis',
        redis: { url: url.href, keyPrefix, cache: { ttl: '5s' } },
      }),
      {
        timeouts: TIMEOUTS,
        clock: { now: () => Date.now() },
        log: createLogger({ level: 'info', destination }),
      },
    );
    try {
      const sid = randomUUID();
      await new Promise<void>((resolve, reject) =>
        backend.store.set(sid, { cookie: { path: '/' } } as never, (err) =>
          err ? reject(new Error(String(err))) : resolve(),
        ),
      );
      assert.notEqual(await admin?.get(`${keyPrefix}sess:${sid}`), null, 'the session was written');
      const warning = lines
        .map(
          (line) =>
            JSON.parse(line) as { level: number; msg: string; channel?: string; err?: { message?: string } },
        )
        .find((line) => line.msg.startsWith('session change not announced'));
      assert.equal(warning?.level, 40);
      assert.equal(warning.channel, `${keyPrefix}session-changed`);
      assert.match(warning.err?.message ?? '', /NOPERM/);
    } finally {
      await backend.close();
    }
  });

  sessionIndexContract('Redis', () => {
    const client = new Redis(redisUrl());
    const index = new RedisSessionIndex({ client, keyPrefix: `contract-${randomUUID()}:` });
    return Promise.resolve({
      index,
      time: realTime(),
      patienceMs: PATIENCE_MS,
      close: async () => {
        index.close();
        await client.quit();
      },
    });
  });
});
