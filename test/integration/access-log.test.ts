// The access log and the request id (src/http/front-door.ts, src/http/request-id.ts): one line per
// proxied request with status, duration, route, user and request id, never the query string; the
// id reaches the app in X-Request-Id, kept from a trusted proxy and replaced for anyone else.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import {
  startGatewayFromRaw,
  startStack,
  type GatewayInstance,
  type Stack,
} from '../support/gateway-stack.js';
import { waitUntil } from '../support/timing.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface AccessLine {
  msg: string;
  level: number;
  requestId: string;
  method: string;
  path: string;
  route: string;
  user: string | null;
  status: number;
  durationMs: number;
}

function accessLines(instance: GatewayInstance): AccessLine[] {
  return instance.logs.lines
    .map((line) => JSON.parse(line) as AccessLine)
    .filter((line) => line.msg === 'proxied');
}

describe('access log and request ids (untrusted clients)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ extra: { log: { level: 'debug', accessLog: true } } });
  });
  after(() => stack.close());

  test('a signed-in request is logged once, with status, duration, route, user and id, but no query', async () => {
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
    const before = stack.echo.requests.length;
    const answer = await browser.request(`${stack.publicUrl}/report?token=s3cr3t-value&code=abc`);
    assert.equal(answer.status, 200);
    const seen = stack.echo.requests.slice(before).find((request) => request.url.startsWith('/report'));
    assert.ok(seen, 'the app received the request');
    const id = seen.headers['x-request-id'];
    assert.ok(typeof id === 'string' && UUID.test(id), `the app got a generated id: ${String(id)}`);

    const line = await waitUntil(() => accessLines(stack.primary).find((entry) => entry.requestId === id), {
      what: 'the access log line',
    });
    assert.equal(line.level, 30);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/report');
    assert.equal(line.route, 'app');
    assert.equal(line.status, 200);
    assert.equal(line.user, 'local:alice');
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!stack.primary.logs.text.includes('s3cr3t-value'), 'the query string never reaches the log');
  });

  test('a client cannot choose the request id, in any spelling', async () => {
    const before = stack.echo.requests.length;
    const answer = await fetch(`${stack.publicUrl}/public/x`, {
      headers: { 'x-request-id': 'client-chosen', x_request_id: 'client-chosen-too' },
    });
    assert.equal(answer.status, 200);
    await answer.arrayBuffer();
    const seen = stack.echo.requests.slice(before).find((request) => request.url === '/public/x');
    assert.ok(seen);
    assert.match(String(seen.headers['x-request-id']), UUID);
    assert.equal(seen.headers['x_request_id'], undefined);
    assert.ok(!JSON.stringify(seen.headers).includes('client-chosen'));
  });
});

describe('request ids from a trusted proxy', () => {
  let echo: EchoApp;
  let gateway: GatewayInstance;
  let dataDir: string;
  before(async () => {
    echo = await startEchoApp();
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-request-id-'));
    gateway = await startGatewayFromRaw({
      server: { publicUrl: 'http://localhost:8080', trustProxy: ['loopback'] },
      session: { secret: 'r'.repeat(64) },
      providers: [
        { id: 'p', type: 'oidc', issuer: 'https://idp.example.invalid', clientId: 'x', clientSecret: 'y' },
      ],
      routes: [{ id: 'open', path: '/', upstream: echo.url, public: true }],
      roles: { admin: { groups: ['admins'] } },
      storage: { dataDir },
      log: { level: 'info', accessLog: true },
    });
  });
  after(async () => {
    await gateway.close();
    await echo.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function idSeenFor(sent: string): Promise<unknown> {
    const before = echo.requests.length;
    const answer = await fetch(`${gateway.gateway.url}/p`, { headers: { 'x-request-id': sent } });
    await answer.arrayBuffer();
    return echo.requests.slice(before).find((request) => request.url === '/p')?.headers['x-request-id'];
  }

  test('a well-formed id is kept, so one id follows the request through every hop', async () => {
    assert.equal(await idSeenFor('edge-7f3a:42'), 'edge-7f3a:42');
    const line = await waitUntil(
      () => accessLines(gateway).find((entry) => entry.requestId === 'edge-7f3a:42'),
      { what: 'the access log line' },
    );
    assert.equal(line.route, 'open');
    assert.equal(line.user, null);
  });

  test("the gateway's own error page carries the same id", async () => {
    const answer = await fetch(`${gateway.gateway.url}/a%2Fb`, {
      headers: { 'x-request-id': 'edge-err-1' },
    });
    assert.equal(answer.status, 400);
    assert.equal(((await answer.json()) as { requestId?: string }).requestId, 'edge-err-1');
    assert.ok(gateway.logs.lines.some((line) => line.includes('"requestId":"edge-err-1"')));
  });

  test('a malformed or oversized id is replaced', async () => {
    for (const sent of ['has space', 'x'.repeat(129), 'quote"id', 'new\u00e9line']) {
      assert.match(String(await idSeenFor(sent)), UUID, JSON.stringify(sent));
    }
  });
});
