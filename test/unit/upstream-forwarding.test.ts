// The lean forwarder's header and path rules (src/proxy/upstream.ts); the end-to-end behaviour is in
// test/integration/upstream-errors.test.ts and test/security/header-spoofing.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRequire } from 'node:module';
import {
  forwardedRequestHeaders,
  forwardedResponseHeaders,
  upstreamPath,
  websocketTargetFor,
} from '../../src/proxy/upstream.js';

// http-proxy-3's own option builder, to check what it makes of our WebSocket targets.
const { setupOutgoing } = createRequire(import.meta.url)('http-proxy-3/dist/lib/http-proxy/common.js') as {
  setupOutgoing: (outgoing: Record<string, unknown>, options: Record<string, unknown>, req: unknown) => void;
};

function dialledFor(upstream: string): Record<string, unknown> {
  const outgoing: Record<string, unknown> = {};
  const req = {
    headers: { host: 'gateway.example.com' },
    url: '/socket?x=1',
    method: 'GET',
    httpVersionMajor: 1,
  };
  setupOutgoing(outgoing, { target: websocketTargetFor(new URL(upstream)), changeOrigin: true }, req);
  return outgoing;
}

describe('upstreamPath', () => {
  test('a root target passes the path and query through', () => {
    assert.equal(upstreamPath(new URL('http://app:8080'), '/a/b?x=1'), '/a/b?x=1');
    assert.equal(upstreamPath(new URL('http://app:8080/'), '/'), '/');
  });
  test('a target base path is prefixed once, with or without its trailing slash', () => {
    assert.equal(upstreamPath(new URL('http://app/base'), '/a?x=1'), '/base/a?x=1');
    assert.equal(upstreamPath(new URL('http://app/base/'), '/a'), '/base/a');
    assert.equal(upstreamPath(new URL('http://app/base/'), '/'), '/base/');
  });
  test('the target query is not mixed into the request', () => {
    assert.equal(upstreamPath(new URL('http://app/?secret=1'), '/a'), '/a');
  });
});

describe('forwardedRequestHeaders', () => {
  test('drops hop-by-hop headers and keeps the rest', () => {
    const out = forwardedRequestHeaders({
      host: 'gw',
      connection: 'keep-alive, x-custom',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic bWFsbG9yeQ==',
      te: 'trailers',
      trailer: 'x-t',
      upgrade: 'h2c',
      'x-custom': 'kept',
      accept: 'text/html',
      'set-cookie': ['a=1', 'b=2'],
    });
    assert.deepEqual(out, {
      host: 'gw',
      'x-custom': 'kept',
      accept: 'text/html',
      'set-cookie': ['a=1', 'b=2'],
    });
  });
  test('keeps Transfer-Encoding so a chunked body is re-framed, not lost', () => {
    assert.deepEqual(forwardedRequestHeaders({ 'transfer-encoding': 'chunked' }), {
      'transfer-encoding': 'chunked',
    });
  });
  test('a client Connection header cannot remove headers the gateway set', () => {
    const out = forwardedRequestHeaders({
      connection: 'x-auth-request-user, x-forwarded-for',
      'x-auth-request-user': 'bob',
      'x-forwarded-for': '127.0.0.1',
    });
    assert.equal(out['x-auth-request-user'], 'bob');
    assert.equal(out['x-forwarded-for'], '127.0.0.1');
  });
});

describe('forwardedResponseHeaders', () => {
  test('keeps case and repeats (several Set-Cookie), drops hop-by-hop and Connection-named ones', () => {
    const raw = [
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Connection',
      'keep-alive, X-Internal',
      'X-Internal',
      'secret',
      'Set-Cookie',
      'b=2',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'X-App',
      'yes',
    ];
    assert.deepEqual(forwardedResponseHeaders(raw), [
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'X-App',
      'yes',
    ]);
  });
});

describe('websocketTargetFor (WebSocket upgrades through http-proxy-3)', () => {
  test('why: given a URL without a port, http-proxy-3 dials port 0 (drop the workaround when this fails)', () => {
    const outgoing: Record<string, unknown> = {};
    const req = { headers: {}, url: '/', method: 'GET', httpVersionMajor: 1 };
    setupOutgoing(outgoing, { target: new URL('http://app.internal') }, req);
    assert.equal(outgoing.port, 0);
  });
  test('a default port is dialled as 80 or 443, not 0', () => {
    assert.equal(dialledFor('http://app.internal').port, 80);
    assert.equal(dialledFor('https://app.internal').port, 443);
    assert.equal(dialledFor('http://app.internal:8080').port, 8080);
  });
  test('the Host header names the app, with its port only when not the default', () => {
    assert.equal((dialledFor('http://app.internal').headers as Record<string, string>).host, 'app.internal');
    assert.equal(
      (dialledFor('http://app.internal:8080').headers as Record<string, string>).host,
      'app.internal:8080',
    );
  });
  test('IPv6 literals are dialled without brackets; base paths are kept', () => {
    const outgoing = dialledFor('http://[::1]:9000/base');
    assert.equal(outgoing.hostname, '::1');
    assert.equal(outgoing.port, 9000);
    assert.equal(outgoing.path, '/base/socket?x=1');
  });
});
