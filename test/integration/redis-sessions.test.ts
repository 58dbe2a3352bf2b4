// Sessions in Redis shared by two gateway replicas: a session made on one is accepted by the other,
// and a login started on one completes on the other (login state is server-side).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import {
  startGatewayFromRaw,
  startStack,
  type GatewayInstance,
  type Stack,
} from '../support/gateway-stack.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';
import { waitUntil } from '../support/timing.js';

const redisBinary = requireBinary('redis-server', 'redis-server');
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

describe(
  'Redis session store shared by two replicas',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  () => {
    let redis: TestRedis;
    let stack: Stack;
    let replica: GatewayInstance;
    /** The replica as the browser sees it: same host name, so the same cookies are sent. */
    let replicaUrl: string;

    before(async () => {
      redis = await startRedisServer();
      stack = await startStack({
        store: 'redis',
        redisUrl: redis.url,
        sessionSecret: randomBytes(32).toString('hex'),
      });
      replica = await stack.startReplica();
      replicaUrl = `http://localhost:${replica.gateway.port}`;
    });
    after(async () => {
      await stack.close();
      await redis.close();
    });

    test('a session made on one replica is accepted by the other', async () => {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
      const { final: landing } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      assert.equal(landing.status, 200);
      const onReplica = await browser.request(`${replicaUrl}/admins/`, { headers: api });
      assert.equal(onReplica.status, 200);
      const echo = JSON.parse(onReplica.body) as { headers: Record<string, string> };
      assert.equal(echo.headers['x-auth-request-user'], 'alice');
      const info = await browser.request(`${replicaUrl}/.portcullis/userinfo`, { headers: api });
      assert.equal((JSON.parse(info.body) as { sub: string }).sub, 'local:alice');
    });

    test('a login started on one replica completes on the other', async () => {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/reports`);
      // Fill the IdP form, but stop at the redirect back to the gateway's callback.
      const form = /action="([^"]+)"/.exec(loginPage.body)?.[1] ?? '';
      const submitted = await browser.request(new URL(form, loginPage.url).href, {
        method: 'POST',
        form: { login: 'bob', password: 'bob' },
        referrer: loginPage.url,
      });
      let response = submitted;
      while (response.status >= 300 && response.status < 400) {
        const next = new URL(response.headers.location ?? '', response.url);
        if (next.pathname.startsWith('/.portcullis/callback/')) {
          // The load balancer sends the callback to the other replica.
          const onReplica = new URL(next.pathname + next.search, replicaUrl);
          response = await browser.request(onReplica.href);
          break;
        }
        response = await browser.request(next.href);
      }
      assert.equal(response.status, 302, response.body);
      assert.equal(response.headers.location, '/reports');
      assert.equal(response.url.startsWith(replicaUrl), true);
      const app = await browser.request(`${stack.publicUrl}/reports`, { headers: api });
      assert.equal(app.status, 200);
      assert.equal(
        (JSON.parse(app.body) as { headers: Record<string, string> }).headers['x-auth-request-user'],
        'bob',
      );
    });

    test('logout on one replica ends the session on both', async () => {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
      await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      assert.equal((await browser.request(`${replicaUrl}/`, { headers: api })).status, 200);
      const logout = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
        method: 'POST',
        form: {},
        referrer: `${stack.publicUrl}/`,
      });
      assert.equal(logout.status, 303);
      assert.equal((await browser.request(`${replicaUrl}/`, { headers: api })).status, 401);
    });

    test('a gateway whose port is taken fails to start and leaves no connection behind', async () => {
      const admin = new Redis(redis.url);
      const clients = async () => (await admin.call('CLIENT', 'LIST')) as string;
      const countBefore = (await clients()).trim().split('\n').length;
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as AddressInfo).port;
      try {
        await assert.rejects(startGatewayFromRaw(stack.rawConfig, port), { code: 'EADDRINUSE' });
        // The failed gateway's Redis connections (commands, pub/sub) are closed, not left open.
        let countAfter = 0;
        await waitUntil(
          async () => {
            countAfter = (await clients()).trim().split('\n').length;
            return countAfter <= countBefore;
          },
          { what: "the failed gateway's Redis connections to close", timeoutMs: 10_000 },
        ).catch(() => undefined);
        assert.equal(countAfter, countBefore);
      } finally {
        taken.close();
        admin.disconnect();
      }
    });

    test('readiness reports the store', async () => {
      const ready = await new TestBrowser().request(`${replicaUrl}/.portcullis/readyz`, { headers: api });
      assert.equal(ready.status, 200);
    });
  },
);
