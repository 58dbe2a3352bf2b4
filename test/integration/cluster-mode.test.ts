// server.workers: several worker processes share the port and the Redis session store; the primary
// prepares the signing keys and the directory once, and SIGTERM stops every worker.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startEchoApp } from '../../dev/echo-app.js';
import { freePort } from '../support/free-port.js';
import { startProcess } from '../support/processes.js';
import { startRedisServer } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';
import { STARTUP_MS, scaled, waitUntil } from '../support/timing.js';

const redisBinary = requireBinary('redis-server', 'redis-server');

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'application/json', connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cluster mode', { skip: 'skip' in redisBinary ? redisBinary.skip : false }, () => {
  test(
    'two workers serve, share one generated key, and stop on SIGTERM with exit code 0',
    { timeout: scaled(3 * STARTUP_MS) },
    async () => {
      const redis = await startRedisServer();
      const echo = await startEchoApp();
      const dir = mkdtempSync(join(tmpdir(), 'portcullis-cluster-'));
      const port = await freePort();
      let stopCluster = (): Promise<unknown> => Promise.resolve();
      try {
        writeFileSync(
          join(dir, 'config.yaml'),
          stringify({
            server: {
              listen: `127.0.0.1:${port}`,
              publicUrl: `http://localhost:${port}`,
              workers: 2,
              shutdownGraceSeconds: 2,
            },
            session: { secret: randomBytes(32).toString('hex'), store: 'redis', redis: { url: redis.url } },
            providers: [
              {
                id: 'idp',
                type: 'oidc',
                issuer: 'https://idp.example.invalid',
                clientId: 'c',
                clientSecret: 's',
              },
            ],
            routes: [{ path: '/', upstream: echo.url, public: true }],
            roles: { admin: { groups: ['admins'] } },
            storage: { dataDir: join(dir, 'data') },
            assertion: {},
            log: { level: 'warn' },
          }),
        );
        // Its own process group: the workers are stopped with the primary even if the test fails.
        const cluster = startProcess('gateway (cluster primary)', process.execPath, [
          '--import',
          'tsx',
          'src/main.ts',
          '--config',
          join(dir, 'config.yaml'),
        ]);
        stopCluster = () => cluster.stop({ signal: 'SIGKILL' });
        await waitUntil(async () => (await get(`http://127.0.0.1:${port}/x`).catch(() => 0)) === 200, {
          what: 'the cluster to answer 200',
          intervalMs: 200,
          failFast: () => (cluster.hasExited() ? `the primary exited:\n${cluster.output()}` : undefined),
          detail: cluster.output,
        });
        const statuses = await Promise.all(
          Array.from({ length: 20 }, () => get(`http://127.0.0.1:${port}/x`)),
        );
        assert.deepEqual(new Set(statuses), new Set([200]));
        assert.ok(existsSync(join(dir, 'data', 'signing-keys.json')));
        // SIGTERM to the primary alone: it must stop its workers itself.
        cluster.child.kill('SIGTERM');
        const { code } = await cluster.exited;
        assert.equal(code, 0, cluster.output());
      } finally {
        await stopCluster();
        await echo.close();
        await redis.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('more than one worker with the memory store is refused at start', async () => {
    const { parseConfigText } = await import('../../src/config/load.js');
    const result = parseConfigText(
      stringify({
        server: { publicUrl: 'https://apps.example.com', workers: 'auto' },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          { id: 'idp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
        ],
        routes: [{ path: '/', upstream: 'http://127.0.0.1:1', public: true }],
        roles: { admin: { groups: ['admins'] } },
      }),
      { env: {}, baseDir: '.', source: 'test' },
    );
    assert.ok(!result.ok, 'refused');
    assert.ok(
      result.error.some((issue) => issue.path === 'server.workers'),
      JSON.stringify(result.error),
    );
  });
});
