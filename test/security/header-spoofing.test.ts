// A client must never be able to tell the app who it is: every spelling of every identity header
// it sends is dropped, on protected and public routes, on plain requests and WebSocket upgrades.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { canonicalHeaderName } from '../../src/core/header-names.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

const IDENTITY_NAMES = [
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Name',
  'X-Portcullis-Assertion',
];

/** Spellings a lenient upstream stack may read as the same header. */
function spellingsOf(name: string): string[] {
  const lower = name.toLowerCase();
  return [
    name,
    lower,
    name.toUpperCase(),
    lower.replaceAll('-', '_'),
    name.replace('-', '_'),
    lower.replace(/-([^-]*)$/, '_$1'),
  ];
}

const FORWARDING_NAMES = [
  'X-Forwarded-For',
  'X-Forwarded-Host',
  'X-Forwarded-Proto',
  'Forwarded',
  'X-Real-IP',
];

/** Sends each spoofed header twice (two header lines), with raw node:http so nothing normalises them. */
function sendSpoofed(url: string, cookie: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET' });
    req.setHeader('accept', 'application/json');
    if (cookie !== undefined) req.setHeader('cookie', cookie);
    for (const name of IDENTITY_NAMES) {
      for (const spelling of spellingsOf(name)) req.setHeader(spelling, ['mallory', 'admins']);
    }
    for (const name of FORWARDING_NAMES) req.setHeader(name, '203.0.113.66');
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET on its own connection with exactly these headers (raw node:http: nothing rewrites them). */
function rawStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', agent: false });
    req.setHeader('accept', 'application/json');
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function spoofedHeadersSeen(rawHeaders: readonly string[]): string[] {
  const ours = new Set(IDENTITY_NAMES.map(canonicalHeaderName));
  const seen: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const value = rawHeaders[i + 1] ?? '';
    if (ours.has(canonicalHeaderName(name)) && /mallory|admins/.test(value) && !/^ey/.test(value))
      seen.push(`${name}: ${value}`);
    if (value.includes('203.0.113.66')) seen.push(`${name}: ${value}`);
  }
  return seen;
}

describe('spoofed identity headers never reach the app', () => {
  let stack: Stack;
  let cookie: string;
  before(async () => {
    stack = await startStack();
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
    cookie = browser.cookieHeaderFor(`${stack.publicUrl}/`);
  });
  after(() => stack.close());

  test('on a public route, without a session', async () => {
    assert.equal(await sendSpoofed(`${stack.publicUrl}/public/x`, undefined), 200);
    const seen = stack.echo.requests.at(-1);
    assert.ok(seen, 'the app received the request');
    assert.equal(seen.url, '/public/x');
    assert.deepEqual(spoofedHeadersSeen(seen.rawHeaders), []);
    const user = IDENTITY_NAMES.map((name) => name.toLowerCase()).filter(
      (name) => seen.headers[name] !== undefined,
    );
    assert.deepEqual(user, [], 'a public route carries no identity at all');
  });

  test('on a protected route, the gateway values replace the spoofed ones', async () => {
    assert.equal(await sendSpoofed(`${stack.publicUrl}/app`, cookie), 200);
    const seen = stack.echo.requests.at(-1);
    assert.ok(seen, 'the app received the request');
    assert.equal(seen.url, '/app');
    assert.deepEqual(spoofedHeadersSeen(seen.rawHeaders), []);
    assert.equal(seen.headers['x-auth-request-user'], 'bob');
    assert.equal(seen.headers['x-auth-request-groups'], 'all-users,eng');
    // X-Forwarded-For comes from the socket (no trusted proxies configured), not from the client.
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('a Connection header naming the identity or forwarding headers cannot make the gateway drop them', async () => {
    // RFC 9110 lets a sender list hop-by-hop headers in Connection; a proxy that honours a client's
    // list would delete the very headers it set itself. Variants: case, spacing, several lines.
    const lists = [
      'close, X-Auth-Request-User, X-Auth-Request-Groups, X-Portcullis-Assertion, X-Forwarded-For',
      'keep-alive,x-auth-request-user,x-portcullis-assertion',
      'X-AUTH-REQUEST-USER ,  X-FORWARDED-FOR',
    ];
    for (const list of lists) {
      const status = await rawStatus(`${stack.publicUrl}/app`, { cookie, connection: list });
      assert.equal(status, 200, list);
      const seen = stack.echo.requests.at(-1);
      assert.ok(seen, 'the app received the request');
      assert.equal(seen.headers['x-auth-request-user'], 'bob', list);
      assert.match(String(seen.headers['x-portcullis-assertion']), /^ey/, list);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', list);
      assert.equal(
        seen.headers.connection === undefined || !/auth-request/i.test(String(seen.headers.connection)),
        true,
      );
    }
  });

  test("the gateway's cookies never reach the app, on public and protected routes alike", async () => {
    // The session cookie would let the app (or whoever reads its logs) act as the user everywhere.
    const gatewayCookies = `${cookie}; portcullis-rounds=3; portcullis-logout=sealed`;
    for (const path of ['/public/x', '/app', '/public/x?again']) {
      const header = `theme=dark; ${gatewayCookies}; app_session=abc`;
      const status = await rawStatus(`${stack.publicUrl}${path}`, { cookie: header });
      assert.equal(status, 200, path);
      const seen = stack.echo.requests.at(-1);
      assert.equal(seen?.headers.cookie, 'theme=dark; app_session=abc', path);
    }
  });

  test('a request the gateway refuses never reaches the app', async () => {
    const before = stack.echo.requests.length;
    assert.equal(await sendSpoofed(`${stack.publicUrl}/admins/`, cookie), 403);
    assert.equal(await sendSpoofed(`${stack.publicUrl}/admins/`, undefined), 401);
    assert.equal(stack.echo.requests.length, before);
  });

  test('on WebSocket upgrades: authenticated, spoofed headers replaced', async () => {
    const headers: Record<string, string> = { cookie };
    for (const name of IDENTITY_NAMES)
      for (const spelling of spellingsOf(name)) headers[spelling] = 'mallory';
    const socket = new WebSocket(`${stack.publicUrl.replace('http', 'ws')}/ws`, { headers });
    const first = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data: Buffer) => resolve(data.toString('utf8')));
      socket.once('error', reject);
    });
    socket.close();
    const echoed = JSON.parse(first) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-auth-request-user'], 'bob');
    for (const [name, value] of Object.entries(echoed.headers)) {
      assert.ok(
        !(IDENTITY_NAMES.map(canonicalHeaderName).includes(canonicalHeaderName(name)) && value === 'mallory'),
        name,
      );
    }
  });

  test('WebSocket upgrade without a session is refused with 401 before reaching the app', async () => {
    const before = stack.echo.requests.length;
    const socket = new WebSocket(`${stack.publicUrl.replace('http', 'ws')}/ws`, {
      headers: { 'x-auth-request-user': 'alice' },
    });
    const status = await new Promise<number>((resolve) => {
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.once('open', () => resolve(101));
      socket.once('error', () => resolve(-1));
    });
    socket.terminate();
    assert.equal(status, 401);
    assert.equal(stack.echo.requests.length, before);
  });

  test('WebSocket upgrade on a public route strips spoofed identity', async () => {
    const socket = new WebSocket(`${stack.publicUrl.replace('http', 'ws')}/public/ws`, {
      headers: { 'X-Auth-Request-User': 'mallory', x_auth_request_groups: 'admins' },
    });
    const first = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data: Buffer) => resolve(data.toString('utf8')));
      socket.once('error', reject);
    });
    socket.close();
    const echoed = JSON.parse(first) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-auth-request-user'], undefined);
    assert.equal(echoed.headers.x_auth_request_groups, undefined);
  });
});
