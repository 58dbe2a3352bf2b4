// When the app behind the gateway is down, the gateway answers 502 itself (and says so) instead of
// hanging or leaking internals, and logs why at warn; bad request targets are refused before any
// routing.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { freePort } from '../support/free-port.js';
import { startPublicGateway, type GatewayInstance } from '../support/gateway-stack.js';

function rawGet(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method: 'GET', headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  status?: number;
  route?: string;
  upstream?: string;
  path?: string;
  err?: { code?: string; message?: string };
}

const WARN = 40;

describe('upstream failures and bad targets', () => {
  let gateway: GatewayInstance;
  let echo: EchoApp;
  let deadPort: number;
  /** Accepts each connection and resets it at once, before any answer. */
  let resetting: Server;
  let resettingPort: number;

  /** The log lines written for one request path, once the gateway has written one (pino writes asynchronously). */
  async function logLinesFor(path: string): Promise<LogLine[]> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const lines = gateway.logs.lines
        .map((line) => JSON.parse(line) as LogLine)
        .filter((line) => line.path === path);
      if (lines.length > 0) return lines;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return [];
  }

  before(async () => {
    echo = await startEchoApp();
    deadPort = await freePort();
    resetting = createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    resettingPort = (resetting.address() as { port: number }).port;
    gateway = await startPublicGateway([
      { id: 'dead-app', path: '/down/', upstream: `http://127.0.0.1:${deadPort}` },
      { id: 'resetting-app', path: '/reset/', upstream: `http://127.0.0.1:${resettingPort}` },
      // A dead upstream too: a 502 proves this host's route was chosen, not the catch-all.
      { host: 'other.example.com', path: '/', upstream: `http://127.0.0.1:${deadPort}` },
      { path: '/', upstream: echo.url },
    ]);
  });
  after(async () => {
    // Each stop runs even when another fails: nothing started here outlives the file.
    await Promise.allSettled([
      gateway.close(),
      echo.close(),
      new Promise((resolve) => resetting.close(resolve)),
    ]);
  });

  test('a dead upstream gives a 502 from the gateway', async () => {
    const response = await rawGet(gateway.gateway.port, '/down/x', { accept: 'application/json' });
    assert.equal(response.status, 502);
    assert.equal(response.headers['x-portcullis-response'], 'gateway');
    assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_UPSTREAM_UNAVAILABLE');
    assert.doesNotMatch(response.body, /ECONNREFUSED|127\.0\.0\.1/);
  });

  test('a refused connection is logged at warn with its cause, the route and the upstream', async () => {
    const response = await rawGet(gateway.gateway.port, '/down/refused?token=secret', {
      accept: 'application/json',
    });
    assert.equal(response.status, 502);
    const [line, ...others] = await logLinesFor('/down/refused');
    assert.equal(others.length, 0, 'one log line per failure');
    assert.equal(line?.level, WARN);
    assert.equal(line.code, 'PC_UPSTREAM_UNAVAILABLE');
    assert.equal(line.status, 502);
    assert.equal(line.route, 'dead-app');
    assert.equal(line.upstream, `127.0.0.1:${deadPort}`);
    assert.equal(line.err?.code, 'ECONNREFUSED');
    assert.match(line.msg, /ECONNREFUSED/);
    assert.doesNotMatch(JSON.stringify(line), /token=secret/);
  });

  test('a connection reset by the upstream is logged at warn with ECONNRESET', async () => {
    const response = await rawGet(gateway.gateway.port, '/reset/x', { accept: 'application/json' });
    assert.equal(response.status, 502);
    const [line] = await logLinesFor('/reset/x');
    assert.equal(line?.level, WARN);
    assert.equal(line.route, 'resetting-app');
    assert.equal(line.upstream, `127.0.0.1:${resettingPort}`);
    assert.equal(line.err?.code, 'ECONNRESET');
  });

  test('a WebSocket upgrade to a dead upstream is logged at warn with its cause, not swallowed', async () => {
    const closed = new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: gateway.gateway.port,
        path: '/down/socket',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve();
      });
      req.on('response', () => resolve());
      req.on('error', () => resolve()); // the gateway closes the socket: what the client sees
      req.end();
    });
    await closed;
    let line: LogLine | undefined;
    for (let attempt = 0; attempt < 200 && line === undefined; attempt++) {
      line = gateway.logs.lines
        .map((text) => JSON.parse(text) as LogLine)
        .find((entry) => entry.msg === 'WebSocket proxy error' && entry.route === 'dead-app');
      if (line === undefined) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(line?.level, WARN);
    assert.equal(line.upstream, `127.0.0.1:${deadPort}`);
    assert.equal(line.err?.code, 'ECONNREFUSED');
  });

  test('the upstream receives the normalised path', async () => {
    const response = await rawGet(gateway.gateway.port, '/a/./b/../c//d?x=%2F..', {
      accept: 'application/json',
    });
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(response.body) as { url: string }).url, '/a/c/d?x=%2F..');
  });

  for (const target of ['/a%2F..%2Fdown/x', '/a%5Cb', '/a%00b', '/..%2f', '/a\\b']) {
    test(`target ${JSON.stringify(target)} is refused with 400 before routing`, async () => {
      const before = echo.requests.length;
      const response = await rawGet(gateway.gateway.port, target, { accept: 'application/json' });
      assert.equal(response.status, 400);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_BAD_REQUEST_TARGET');
      assert.equal(echo.requests.length, before);
    });
  }

  test('routes match on the Host header, normalised (case, port, trailing dot)', async () => {
    for (const host of ['other.example.com', 'OTHER.Example.COM:8443', 'other.example.com.']) {
      const response = await rawGet(gateway.gateway.port, '/h', { host, accept: 'application/json' });
      assert.equal(response.status, 502, host);
    }
    assert.equal((await rawGet(gateway.gateway.port, '/h', { host: 'another.example.com' })).status, 200);
    const bad = await rawGet(gateway.gateway.port, '/h', {
      host: 'user@evil.example',
      accept: 'application/json',
    });
    assert.equal(bad.status, 400);
  });
});
