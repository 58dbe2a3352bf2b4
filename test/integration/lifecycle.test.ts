// The process as Kubernetes runs it: a health port for the kubelet that needs no auth (sidecar
// mode), and SIGTERM that lets a slow request finish, closes open WebSockets within the grace
// period, and exits 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { stringify } from 'yaml';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { freePort } from '../support/free-port.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('process lifecycle (sidecar health port, SIGTERM drain)', () => {
  let echo: EchoApp;
  let slow: Server;
  let dir: string;
  let gateway: ChildProcess;
  let output = '';
  let port: number;
  let healthPort: number;

  before(async () => {
    echo = await startEchoApp();
    slow = createServer((_req, res) => setTimeout(() => res.end('done'), 1500));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowPort = (slow.address() as { port: number }).port;
    [port, healthPort] = [await freePort(), await freePort()];
    dir = mkdtempSync(join(tmpdir(), 'portcullis-lifecycle-'));
    const config = {
      server: {
        listen: `127.0.0.1:${port}`,
        publicUrl: `http://localhost:${port}`,
        healthListen: `127.0.0.1:${healthPort}`,
        shutdownGraceSeconds: 3,
      },
      session: { secret: randomBytes(32).toString('hex') },
      providers: [
        {
          id: 'idp',
          type: 'oidc',
          issuer: `http://127.0.0.1:${await freePort()}`,
          clientId: 'c',
          clientSecret: 's',
          insecureAllowHttpIssuer: true,
        },
      ],
      routes: [
        { path: '/slow/', upstream: `http://127.0.0.1:${slowPort}`, public: true },
        { path: '/ws/', upstream: echo.url, public: true },
        { path: '/', upstream: echo.url, allow: { authenticated: true } },
      ],
      roles: { admin: { groups: ['admins'] } },
      storage: { dataDir: join(dir, 'data') },
      log: { level: 'warn' },
    };
    writeFileSync(join(dir, 'config.yaml'), stringify(config));
    gateway = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', '--config', join(dir, 'config.yaml')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    gateway.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    gateway.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const health = await get(`http://127.0.0.1:${healthPort}/healthz`).catch(() => null);
      if (health?.status === 200) break;
      if (Date.now() > deadline || gateway.exitCode !== null)
        throw new Error(`gateway did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  after(async () => {
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
    await echo.close();
    await new Promise<void>((resolve) => slow.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the health port answers without auth while the main port protects the app', async () => {
    assert.equal((await get(`http://127.0.0.1:${healthPort}/readyz`)).status, 200);
    assert.equal((await get(`http://127.0.0.1:${healthPort}/anything`)).status, 404);
    assert.equal((await get(`http://127.0.0.1:${port}/app`)).status, 401);
  });

  test('SIGTERM: the slow request completes, the WebSocket is closed within the grace period, exit code 0', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/live`);
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('error', reject);
    });
    const socketClosed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const slowResponse = get(`http://127.0.0.1:${port}/slow/work`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
    gateway.kill('SIGTERM');

    const response = await slowResponse;
    assert.equal(response.status, 200);
    assert.equal(response.body, 'done');
    assert.equal(await exited, 0, output);
    await socketClosed;
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3000 + 2500, `shutdown took ${elapsed} ms`);
  });
});
