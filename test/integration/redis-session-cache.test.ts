// The in-process session cache in front of Redis (src/session/session-cache.ts): replicas answer
// from it, and still see a logout anywhere at once, because changes are announced over pub/sub.
// Real Redis, real replicas; the cache TTL is set to 60 s so only the announcement can explain a
// prompt refusal.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type GatewayInstance, type Stack } from '../support/gateway-stack.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';
import { waitUntil } from '../support/timing.js';

const redisBinary = requireBinary('redis-server', 'redis-server');
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

describe(
  'session cache in front of Redis, revocation-aware',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  () => {
    let redis: TestRedis;
    let admin: Redis;
    let stack: Stack;
    let replica: GatewayInstance;
    let replicaUrl: string;
    let sessionKeys: string;

    before(async () => {
      redis = await startRedisServer();
      admin = new Redis(redis.url);
      stack = await startStack({
        store: 'redis',
        redisUrl: redis.url,
        sessionSecret: randomBytes(32).toString('hex'),
        extra: { session: { redis: { cache: { ttl: '60s' } } } },
      });
      replica = await stack.startReplica();
      replicaUrl = `http://localhost:${replica.gateway.port}`;
      const prefix = (stack.rawConfig.session as { redis: { keyPrefix: string } }).redis.keyPrefix;
      sessionKeys = `${prefix}sess:*`;
    });
    after(async () => {
      admin.disconnect();
      await stack.close();
      await redis.close();
    });

    async function signedInBrowser(): Promise<TestBrowser> {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
      await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      return browser;
    }

    async function statusOn(browser: TestBrowser, base: string): Promise<number> {
      return (await browser.request(`${base}/`, { headers: api })).status;
    }

    /** Removes every session behind the gateways' backs: no announcement, as a Redis operator would. */
    async function deleteSessionsSilently(): Promise<void> {
      const keys = await admin.keys(sessionKeys);
      if (keys.length > 0) await admin.del(keys);
    }

    test('a replica answers from its cache: a session removed behind its back is still served', async () => {
      const browser = await signedInBrowser();
      assert.equal(await statusOn(browser, replicaUrl), 200); // now cached on the replica
      await deleteSessionsSilently();
      assert.equal(await statusOn(browser, replicaUrl), 200, 'served from the cache');
      // A replica without the cached copy asks Redis and finds nothing.
      const third = await stack.startReplica();
      try {
        assert.equal(await statusOn(browser, `http://localhost:${third.gateway.port}`), 401);
      } finally {
        await third.close();
      }
    });

    test('logout on one replica is refused at once on another that had the session cached', async () => {
      const browser = await signedInBrowser();
      assert.equal(await statusOn(browser, replicaUrl), 200);
      const cookie = browser.cookieHeaderFor(`${stack.publicUrl}/`);
      const logout = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
        method: 'POST',
        form: {},
        referrer: `${stack.publicUrl}/`,
      });
      assert.equal(logout.status, 303);
      // The announcement went out before the logout answered: no wait, and far inside the 60 s TTL.
      // The cookie is replayed as it was (the browser itself dropped it at logout).
      const replay = await new TestBrowser().request(`${replicaUrl}/`, { headers: { ...api, cookie } });
      assert.equal(replay.status, 401);
    });

    test('a new login on the same browser replaces the cached session everywhere', async () => {
      const browser = await signedInBrowser();
      assert.equal(await statusOn(browser, replicaUrl), 200);
      const before = browser.cookieHeaderFor(`${stack.publicUrl}/`);
      // The IdP still has alice's session: the login completes without its form.
      const { final: landing } = await browser.navigate(`${stack.publicUrl}/.portcullis/login?rd=/`);
      assert.equal(landing.status, 200);
      assert.ok(landing.url.startsWith(stack.publicUrl), landing.url);
      const afterLogin = browser.cookieHeaderFor(`${stack.publicUrl}/`);
      assert.notEqual(afterLogin, before, 'the session id changed');
      // The old cookie, replayed on the replica that had it cached, is refused.
      const replay = await new TestBrowser().request(`${replicaUrl}/`, {
        headers: { ...api, cookie: before },
      });
      assert.equal(replay.status, 401);
      assert.equal(await statusOn(browser, replicaUrl), 200);
    });

    test('while a replica cannot hear announcements it does not trust its cache', async () => {
      const browser = await signedInBrowser();
      assert.equal(await statusOn(browser, replicaUrl), 200);
      // Cut every subscriber connection (the replicas reconnect on their own), then remove the
      // session silently: whatever a replica had cached before the cut must not be used.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await deleteSessionsSilently();
      assert.equal(await statusOn(browser, replicaUrl), 401);
      // Once subscribed again, caching resumes and announcements work.
      let status = 0;
      await waitUntil(
        async () => {
          const again = await signedInBrowser();
          await statusOn(again, replicaUrl);
          await deleteSessionsSilently();
          status = await statusOn(again, replicaUrl);
          return status === 200;
        },
        { what: 'the replica to cache again', intervalMs: 100, timeoutMs: 30_000 },
      ).catch(() => undefined);
      assert.equal(status, 200, 'the replica caches again after re-subscribing');
    });

    // Last: it stops Redis.
    test('with Redis gone, a cached session is not served: the answer is a 503, and the gateway stays up', async () => {
      const browser = await signedInBrowser();
      assert.equal(await statusOn(browser, replicaUrl), 200); // cached on the replica
      admin.disconnect();
      await redis.close();
      let response = await browser.request(`${replicaUrl}/`, { headers: api });
      await waitUntil(
        async () => {
          response = await browser.request(`${replicaUrl}/`, { headers: api });
          return response.status === 503;
        },
        { what: 'the replica to notice Redis is gone', intervalMs: 100, timeoutMs: 30_000 },
      ).catch(() => undefined);
      assert.equal(response.status, 503);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_SESSION_STORE_UNAVAILABLE');
      // Public routes do not need the store.
      assert.equal((await browser.request(`${replicaUrl}/public/x`, { headers: api })).status, 200);
    });
  },
);
