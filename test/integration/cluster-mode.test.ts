// server.workers: several worker processes share the port and the Redis session store; the primary
// prepares the signing keys and the directory once, and SIGTERM stops every worker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startEchoApp } from '../../dev/echo-app.js';
import { freePort } from '../support/free-port.js';
import { startRedisServer } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';

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
  test('two workers serve, share one generated key, and stop on SIGTERM with exit code 0', async () => {
    const redis = await startRedisServer();
    const echo = await startEchoApp();
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-cluster-'));
    const port = await freePort();
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
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/main.ts', '--config', join(dir, 'config.yaml')],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 30_000;
      while ((await get(`http://127.0.0.1:${port}/x`).catch(() => 0)) !== 200) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`cluster did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const statuses = await Promise.all(Array.from({ length: 20 }, () => get(`http://127.0.0.1:${port}/x`)));
      assert.deepEqual(new Set(statuses), new Set([200]));
      assert.ok(existsSync(join(dir, 'data', 'signing-keys.json')));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
    } finally {
      await echo.close();
      await redis.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
    assert.equal(result.ok, false);
    if (!result.ok)
      assert.ok(
        result.error.some((issue) => issue.path === 'server.workers'),
        JSON.stringify(result.error),
      );
  });
});
