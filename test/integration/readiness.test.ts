// /readyz names what is down. A gateway with its sessions in a private Redis: ready while Redis
// answers; once Redis is stopped, both the gateway's /readyz and the health listener's answer 503
// naming the session store (not "session store or directory"), and the log says why.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from '../support/gateway-stack.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';

const redisBinary = requireBinary('redis-server', 'redis-server');

function getJson(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'application/json' } });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe(
  'readiness names the store that failed',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  () => {
    let redis: TestRedis | undefined;
    let gateway: GatewayInstance | undefined;
    let healthPort: number;
    const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-readiness-'));

    before(async () => {
      redis = await startRedisServer();
      healthPort = await freePort();
      gateway = await startGatewayFromRaw({
        server: { publicUrl: 'http://localhost:8080', healthListen: `127.0.0.1:${healthPort}` },
        session: {
          secret: randomBytes(32).toString('hex'),
          store: 'redis',
          redis: { url: redis.url, keyPrefix: 'readiness:' },
        },
        providers: [
          { id: 'p', type: 'oidc', issuer: 'https://idp.example.invalid', clientId: 'x', clientSecret: 'y' },
        ],
        routes: [{ path: '/', upstream: 'http://127.0.0.1:9', public: true }],
        roles: { admin: { groups: ['admins'] } },
        storage: { dataDir },
      });
    });
    after(async () => {
      // Each stop runs even if another fails, and even if a test failed.
      await Promise.allSettled([gateway?.close(), redis?.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('ready while the session store and the directory answer', async () => {
      const port = gateway?.gateway.port ?? 0;
      assert.deepEqual(await getJson(port, '/.portcullis/readyz'), {
        status: 200,
        body: { status: 'ready' },
      });
      assert.deepEqual(await getJson(healthPort, '/readyz'), { status: 200, body: { status: 'ready' } });
    });

    test('with Redis stopped, both probes answer 503 naming the session store', async () => {
      await redis?.close();
      const notReady = { status: 503, body: { status: 'not ready', reason: 'session store unreachable' } };
      assert.deepEqual(await getJson(gateway?.gateway.port ?? 0, '/.portcullis/readyz'), notReady);
      assert.deepEqual(await getJson(healthPort, '/readyz'), notReady);
      const logged = (gateway?.logs.lines ?? [])
        .map((line) => JSON.parse(line) as { level: number; dependency?: string; err?: { message?: string } })
        .filter((line) => line.dependency === 'session store');
      assert.equal(logged.length >= 2, true, 'each failed probe is logged');
      assert.equal(logged[0]?.level, 40);
    });
  },
);
