// The lean forwarder's header and path rules (src/proxy/upstream.ts); the end-to-end behaviour is in
// test/integration/upstream-errors.test.ts and test/security/header-spoofing.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardedRequestHeaders, forwardedResponseHeaders, upstreamPath } from '../../src/proxy/upstream.js';

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
