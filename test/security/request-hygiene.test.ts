// Request hygiene and forward-auth trust (issue 12): two Host headers, fragments in a request
// target or in an original-URL header, routing hints a client invents, and forward-auth asked by a
// browser instead of a trusted proxy (the Envoy path form included). Real gateways, a real IdP
// login, a real upstream that records what it received; raw sockets where a client library would
// tidy the attack away.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

/** Sends raw bytes, returns the status code of the answer. */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (!/^HTTP\/1\.1 \d{3}/.test(answer)) reject(new Error(`no status line: ${JSON.stringify(answer)}`));
    });
    socket.write(request);
  });
}

const ROUTING_HINTS: Record<string, string> = {
  'X-Original-URL': '/admins/',
  'X-Rewrite-URL': '/admins/',
  'X-Original-URI': '/admins/',
  'X-Original-Method': 'DELETE',
  'X-Forwarded-Uri': '/admins/',
  'X-Forwarded-Prefix': '/admins',
  'X-Forwarded-Method': 'DELETE',
  'X-Forwarded-Path': '/admins/',
  X_Original_URL: '/admins/',
  'x-rewrite_url': '/admins/',
};

function withLoggedInBob(stackOptions: Parameters<typeof startStack>[0]) {
  const state: { stack?: Stack; cookie: string } = { cookie: '' };
  before(async () => {
    state.stack = await startStack(stackOptions);
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${state.stack.publicUrl}/`);
    const { final: landing } = await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
    assert.equal(landing.status, 200, 'bob is signed in');
    state.cookie = browser.cookieHeaderFor(`${state.stack.publicUrl}/`);
  });
  after(async () => {
    await state.stack?.close();
  });
  return () => {
    assert.ok(state.stack, 'the stack started');
    return { stack: state.stack, cookie: state.cookie };
  };
}

describe('request hygiene (clients are not trusted proxies)', () => {
  const live = withLoggedInBob({});

  test('two Host headers are a 400, never routed by either', async () => {
    const { stack } = live();
    const before = stack.echo.requests.length;
    const port = stack.primary.gateway.port;
    for (const hosts of [
      ['localhost', 'localhost'],
      ['localhost', 'evil.example'],
      ['evil.example', 'localhost'],
    ]) {
      const status = await rawStatus(
        port,
        `GET /public/x HTTP/1.1\r\nHost: ${hosts[0]}\r\nhost: ${hosts[1]}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status, 400, hosts.join(' + '));
    }
    assert.equal(stack.echo.requests.length, before, 'nothing reached the app');
    assert.equal(
      await rawStatus(port, 'GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      200,
      'one Host is fine (the test can tell)',
    );
  });

  test("a '#' anywhere in the request target is a 400, never judged by its prefix", async () => {
    const { stack } = live();
    const before = stack.echo.requests.length;
    for (const target of [
      '/public/#/../../admins/',
      '/public/?a#/../../admins/',
      '/public/x?#',
      '/public/%23/x#',
    ]) {
      const status = await rawStatus(
        stack.primary.gateway.port,
        `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status, 400, target);
    }
    assert.equal(stack.echo.requests.length, before, 'nothing reached the app');
  });

  test('routing hints a client sends never reach the app, in any spelling', async () => {
    const { stack, cookie } = live();
    for (const path of ['/public/x', '/reports']) {
      const before = stack.echo.requests.length;
      const response = await fetch(`${stack.publicUrl}${path}`, { headers: { ...ROUTING_HINTS, cookie } });
      assert.equal(response.status, 200, path);
      await response.arrayBuffer();
      const seen = stack.echo.requests.slice(before).at(-1);
      assert.ok(seen, `${path} reached the app`);
      const leaked = Object.keys(seen.headers).filter((name) =>
        Object.keys(ROUTING_HINTS).some((hint) => hint.toLowerCase() === name),
      );
      assert.deepEqual(leaked, [], `${path}: ${leaked.join(', ')}`);
    }
  });

  test('forward-auth answers no browser: every dialect, the Envoy path form included', async () => {
    const { stack, cookie } = live();
    const auth = `${stack.publicUrl}/.portcullis/auth`;
    for (const [url, headers] of [
      [`${auth}/reports`, {}],
      [`${auth}/public/x`, {}],
      [auth, { 'x-forwarded-uri': '/reports', 'x-forwarded-host': 'localhost' }],
      [auth, { 'x-original-url': `${stack.publicUrl}/reports` }],
      [auth, { 'x-original-uri': '/reports' }],
    ] as const) {
      const response = await fetch(url, { headers: { ...headers, cookie, accept: 'application/json' } });
      assert.equal(response.status, 403, `${url} ${JSON.stringify(headers)}`);
      assert.equal(response.headers.get('x-portcullis-assertion'), null);
      assert.equal(response.headers.get('x-auth-request-user'), null);
      await response.arrayBuffer();
    }
  });
});

describe('forward-auth from a trusted proxy', () => {
  const live = withLoggedInBob({ extra: { server: { trustProxy: ['loopback'] } } });

  test('the Envoy path form still works for the trusted proxy (the test can tell)', async () => {
    const { stack, cookie } = live();
    const response = await fetch(`${stack.publicUrl}/.portcullis/auth/reports`, { headers: { cookie } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-auth-request-user'), 'bob');
    await response.arrayBuffer();
  });

  test("an original URL or URI with a '#' is refused, not judged by the part before it", async () => {
    const { stack, cookie } = live();
    const auth = `${stack.publicUrl}/.portcullis/auth`;
    for (const headers of [
      { 'x-original-url': `${stack.publicUrl}/public/#/../../admins/` },
      { 'x-original-url': `${stack.publicUrl}/public/?x#/../admins/` },
      { 'x-original-uri': '/public/#/../../admins/' },
      { 'x-original-uri': '/public/?x#/../admins/' },
      { 'x-forwarded-uri': '/public/#/../../admins/', 'x-forwarded-host': 'localhost' },
      { 'x-forwarded-uri': '/public/?a#b', 'x-forwarded-host': 'localhost' },
    ]) {
      const response = await fetch(auth, { headers: { ...headers, cookie, accept: 'application/json' } });
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.equal(response.headers.get('x-portcullis-assertion'), null);
      await response.arrayBuffer();
    }
  });

  test('routing hints from the trusted proxy itself are passed on', async () => {
    const { stack } = live();
    const before = stack.echo.requests.length;
    const response = await fetch(`${stack.publicUrl}/public/x`, {
      headers: { 'X-Forwarded-Prefix': '/app' },
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(stack.echo.requests.slice(before).at(-1)?.headers['x-forwarded-prefix'], '/app');
  });
});
