// When the app behind the gateway is down, the gateway answers 502 itself (and says so) instead of
// hanging or leaking internals; bad request targets are refused before any routing.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
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

describe('upstream failures and bad targets', () => {
  let gateway: GatewayInstance;
  let echo: EchoApp;

  before(async () => {
    echo = await startEchoApp();
    const deadPort = await freePort();
    gateway = await startPublicGateway([
      { path: '/down/', upstream: `http://127.0.0.1:${deadPort}` },
      // A dead upstream too: a 502 proves this host's route was chosen, not the catch-all.
      { host: 'other.example.com', path: '/', upstream: `http://127.0.0.1:${deadPort}` },
      { path: '/', upstream: echo.url },
    ]);
  });
  after(async () => {
    await gateway.close();
    await echo.close();
  });

  test('a dead upstream gives a 502 from the gateway', async () => {
    const response = await rawGet(gateway.gateway.port, '/down/x', { accept: 'application/json' });
    assert.equal(response.status, 502);
    assert.equal(response.headers['x-portcullis-response'], 'gateway');
    assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_UPSTREAM_UNAVAILABLE');
    assert.doesNotMatch(response.body, /ECONNREFUSED|127\.0\.0\.1/);
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
