// The demo/test support pieces on their own: the local OpenID Provider driven by hand through
// the code flow, the echo app, and the scripted browser's cookie and redirect rules.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { startEchoApp, type EchoResponse } from '../../dev/echo-app.js';
import { startLocalIdp, type LocalIdp } from '../../dev/local-idp.js';
import { loginAtLocalIdp, submitFirstForm, TestBrowser, type BrowserResponse } from '../support/browser.js';

const CLIENT_ID = 'support-test';
const CLIENT_SECRET = 'support-test-secret';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
  code_challenge_methods_supported: string[];
  scopes_supported: string[];
  claims_supported: string[];
}

interface TokenResponse {
  access_token: string;
  id_token: string;
  token_type: string;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

async function startServer(t: TestContext, listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A stand-in relying party: it only records what arrives at its callback and logout URIs. */
async function startRelyingParty(t: TestContext) {
  const hits: URL[] = [];
  const origin = await startServer(t, (req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://rp'));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party\n');
  });
  return { origin, redirectUri: `${origin}/callback`, postLogoutUri: `${origin}/signed-out`, hits };
}

async function startIdpWithClient(t: TestContext) {
  const rp = await startRelyingParty(t);
  const idp = await startLocalIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [rp.redirectUri],
        post_logout_redirect_uris: [rp.postLogoutUri],
      },
    ],
  });
  t.after(() => idp.close());
  const discovery = await fetchJson<Discovery>(`${idp.issuer}/.well-known/openid-configuration`);
  return { idp, rp, discovery };
}

async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  assert.equal(response.status, 200, `${url} answered ${response.status}: ${await response.clone().text()}`);
  return (await response.json()) as T;
}

function newPkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizationUrl(
  discovery: Discovery,
  redirectUri: string,
  params: { state: string; nonce: string; challenge?: string },
): string {
  const url = new URL(discovery.authorization_endpoint);
  url.searchParams.set('client_id', CLIENT_ID);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('scope', 'openid email profile groups');
  url.searchParams.set('state', params.state);
  url.searchParams.set('nonce', params.nonce);
  if (params.challenge) {
    url.searchParams.set('code_challenge', params.challenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.href;
}

/** Starts an authorization request in the browser; returns where the navigation stopped. */
async function beginLogin(browser: TestBrowser, discovery: Discovery, redirectUri: string) {
  const pkce = newPkce();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const url = authorizationUrl(discovery, redirectUri, { state, nonce, challenge: pkce.challenge });
  const { final } = await browser.navigate(url);
  return { page: final, pkce, state, nonce };
}

async function exchangeCode(discovery: Discovery, code: string, verifier: string, redirectUri: string) {
  const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
  return fetchJson<TokenResponse>(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  });
}

function assertIsLoginForm(page: BrowserResponse): void {
  assert.match(page.body, /<form method="post" action="\/interaction\/[^"]+\/login">/);
  assert.match(page.body, /name="login"/);
  assert.match(page.body, /name="password"/);
}

// ---------------------------------------------------------------------------------------------
// Local IdP

test('local IdP: discovery advertises the code flow, S256 PKCE, the groups scope and logout', async (t) => {
  const { idp, discovery } = await startIdpWithClient(t);

  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(discovery.issuer, idp.issuer);
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
  assert.equal(discovery.end_session_endpoint, `${idp.issuer}/session/end`);
  assert.equal(discovery.userinfo_endpoint, `${idp.issuer}/me`);
  for (const scope of ['openid', 'email', 'profile', 'groups'])
    assert.ok(discovery.scopes_supported.includes(scope));
  for (const claim of ['groups', 'realm_access', 'email'])
    assert.ok(discovery.claims_supported.includes(claim));
});

test('local IdP: alice signs in through the code flow and gets her groups in the ID token', async (t) => {
  const { idp, rp, discovery } = await startIdpWithClient(t);
  const browser = new TestBrowser();

  const login = await beginLogin(browser, discovery, rp.redirectUri);
  assert.equal(login.page.status, 200);
  assertIsLoginForm(login.page);

  const { final } = await loginAtLocalIdp(browser, login.page, 'alice', 'alice');
  const callback = new URL(final.url);
  assert.equal(`${callback.origin}${callback.pathname}`, rp.redirectUri);
  assert.equal(callback.searchParams.get('state'), login.state);
  assert.equal(callback.searchParams.get('iss'), idp.issuer);
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${final.url}`);

  const tokens = await exchangeCode(discovery, code, login.pkce.verifier, rp.redirectUri);
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token, keys, {
    issuer: idp.issuer,
    audience: CLIENT_ID,
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.sub, 'alice');
  assert.equal(payload['nonce'], login.nonce);
  assert.deepEqual(payload['groups'], ['admins', 'eng']);
  assert.deepEqual(payload['realm_access'], { roles: ['admins', 'eng'] });
  assert.equal(payload['email'], 'alice@example.com');
  assert.equal(payload['name'], 'Alice Example');

  const userinfo = await fetchJson<Record<string, unknown>>(discovery.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(userinfo['sub'], 'alice');
  assert.deepEqual(userinfo['groups'], ['admins', 'eng']);
});

test('local IdP: a wrong password re-renders the login form with 401', async (t) => {
  const { rp, discovery } = await startIdpWithClient(t);
  const browser = new TestBrowser();

  const login = await beginLogin(browser, discovery, rp.redirectUri);
  const { final, chain } = await loginAtLocalIdp(browser, login.page, 'alice', 'not-her-password');

  assert.equal(chain.length, 1);
  assert.equal(final.status, 401);
  assertIsLoginForm(final);
  assert.match(final.body, /Wrong username or password/);
  assert.match(final.body, /value="alice"/);
  assert.equal(rp.hits.length, 0);

  const retry = await loginAtLocalIdp(browser, final, 'alice', 'alice');
  assert.equal(new URL(retry.final.url).searchParams.get('state'), login.state);
});

test('local IdP: an authorization request without PKCE is refused', async (t) => {
  const { rp, discovery } = await startIdpWithClient(t);
  const browser = new TestBrowser();

  const url = authorizationUrl(discovery, rp.redirectUri, { state: 'no-pkce', nonce: 'n' });
  const { final } = await browser.navigate(url);

  const callback = new URL(final.url);
  assert.equal(callback.searchParams.get('error'), 'invalid_request');
  assert.equal(callback.searchParams.get('state'), 'no-pkce');
  assert.equal(callback.searchParams.get('code'), null);
});

test('local IdP: the session gives SSO until RP-initiated logout, whose form a script can submit', async (t) => {
  const { rp, discovery } = await startIdpWithClient(t);
  const browser = new TestBrowser();

  const first = await beginLogin(browser, discovery, rp.redirectUri);
  const signedIn = await loginAtLocalIdp(browser, first.page, 'bob', 'bob');
  const code = new URL(signedIn.final.url).searchParams.get('code') ?? '';
  const tokens = await exchangeCode(discovery, code, first.pkce.verifier, rp.redirectUri);

  const sso = await beginLogin(browser, discovery, rp.redirectUri);
  assert.equal(new URL(sso.page.url).pathname, '/callback', 'a live IdP session skips the login form');

  const endSession = new URL(discovery.end_session_endpoint);
  endSession.searchParams.set('id_token_hint', tokens.id_token);
  endSession.searchParams.set('post_logout_redirect_uri', rp.postLogoutUri);
  endSession.searchParams.set('state', 'bye');
  const confirmation = await browser.navigate(endSession.href);
  assert.equal(confirmation.final.status, 200);
  assert.match(confirmation.final.body, /name="xsrf"/);

  const { final } = await submitFirstForm(browser, confirmation.final, {});
  const signedOut = new URL(final.url);
  assert.equal(`${signedOut.origin}${signedOut.pathname}`, rp.postLogoutUri);
  assert.equal(signedOut.searchParams.get('state'), 'bye');

  const afterLogout = await beginLogin(browser, discovery, rp.redirectUri);
  assertIsLoginForm(afterLogout.page);
});

test('local IdP: two instances in one process keep separate sessions and issuers', async (t) => {
  const a = await startIdpWithClient(t);
  const b = await startIdpWithClient(t);
  assert.notEqual(a.idp.issuer, b.idp.issuer);

  const browser = new TestBrowser();
  const login = await beginLogin(browser, a.discovery, a.rp.redirectUri);
  await loginAtLocalIdp(browser, login.page, 'alice', 'alice');

  // Same host, so the browser sends a's cookies to b too (cookies ignore ports): b must not
  // recognise them.
  const other = await beginLogin(browser, b.discovery, b.rp.redirectUri);
  assertIsLoginForm(other.page);
});

test('local IdP: close() frees the port and may be called twice', async () => {
  const idp: LocalIdp = await startLocalIdp({ clients: [] });
  await idp.close();
  await idp.close();
  await assert.rejects(fetch(`${idp.issuer}/.well-known/openid-configuration`));
});

// ---------------------------------------------------------------------------------------------
// Echo app

test('echo app: echoes method, URL, headers and body as JSON, and records the request', async (t) => {
  const app = await startEchoApp();
  t.after(() => app.close());

  const echo = await fetchJson<EchoResponse>(`${app.url}/some/path?q=1`, {
    method: 'POST',
    headers: { 'x-test': 'hello', 'content-type': 'text/plain' },
    body: 'payload',
  });

  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/some/path?q=1');
  assert.equal(echo.headers['x-test'], 'hello');
  assert.equal(echo.assertion, null);
  assert.equal(echo.body, 'payload');
  assert.equal(app.requests.length, 1);
  const [recorded] = app.requests;
  assert.equal(recorded?.headers['x-test'], 'hello');
  assert.ok(recorded.rawHeaders.includes('x-test'));
});

test('echo app: browsers get an HTML page with escaped values and a sign-out form', async (t) => {
  const app = await startEchoApp();
  t.after(() => app.close());

  const page = await new TestBrowser().request(`${app.url}/`, {
    headers: { 'x-evil': '<script>alert(1)</script>' },
  });

  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<h1>Echo app<\/h1>/);
  assert.match(
    page.body,
    /<form method="post" action="\/\.portcullis\/logout"><button>Sign out<\/button><\/form>/,
  );
  assert.ok(page.body.includes('&#60;script&#62;alert(1)&#60;/script&#62;'));
  assert.ok(!page.body.includes('<script>'));
});

test('echo app: a WebSocket first receives the upgrade request, then its messages echoed', async (t) => {
  const app = await startEchoApp();
  t.after(() => app.close());

  const socket = new WebSocket(`${app.url.replace('http', 'ws')}/live?x=1`, { headers: { 'x-test': 'ws' } });
  t.after(() => socket.terminate());
  const messages: string[] = [];
  const received = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (messages.length >= count ? resolve() : undefined);
      socket.on('message', (data) => {
        messages.push(
          Buffer.concat(
            Array.isArray(data) ? data : [Buffer.isBuffer(data) ? data : Buffer.from(data)],
          ).toString('utf8'),
        );
        check();
      });
      socket.once('error', reject);
    });

  const firstTwo = received(2);
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send('ping');
  await firstTwo;

  const hello = JSON.parse(messages[0] ?? '{}') as { url: string; headers: Record<string, string> };
  assert.equal(hello.url, '/live?x=1');
  assert.equal(hello.headers['x-test'], 'ws');
  assert.equal(hello.headers['upgrade'], 'websocket');
  assert.equal(messages[1], 'ping');
  assert.equal(app.requests.at(-1)?.url, '/live?x=1');
});

test('echo app: verifies assertions against the JWKS; tampered or foreign-issuer ones fail', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
  const jwksOrigin = await startServer(t, (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  const issuer = 'http://gateway.test';
  const app = await startEchoApp({ jwksUrl: `${jwksOrigin}/jwks.json`, expectedIssuer: issuer });
  t.after(() => app.close());

  const sign = (iss: string) =>
    new SignJWT({ email: 'alice@example.com', groups: ['admins', 'eng'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
      .setSubject('alice')
      .setIssuer(iss)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
  const echoWith = (token: string) =>
    fetchJson<EchoResponse>(`${app.url}/`, { headers: { 'x-portcullis-assertion': token } });

  const token = await sign(issuer);
  const good = await echoWith(token);
  assert.equal(good.assertion?.valid, true);
  assert.equal(good.assertion.claims['sub'], 'alice');
  assert.deepEqual(good.assertion.claims['groups'], ['admins', 'eng']);
  assert.equal(good.assertion.header['kid'], 'test-key');

  const [header, , signature] = token.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ sub: 'mallory', iss: issuer })).toString('base64url');
  const tampered = await echoWith(`${header}.${forgedPayload}.${signature}`);
  assert.equal(tampered.assertion?.valid, false);
  assert.match(tampered.assertion.error, /signature/i);

  const foreign = await echoWith(await sign('http://someone-else.test'));
  assert.equal(foreign.assertion?.valid, false);

  const html = await new TestBrowser().request(`${app.url}/`, {
    headers: { 'x-portcullis-assertion': token },
  });
  assert.match(html.body, /verified against <code>\/jwks\.json<\/code>/);
  assert.match(html.body, /alice@example\.com/);
});

// ---------------------------------------------------------------------------------------------
// TestBrowser

test('browser: cookie path, deletion, Secure and prefix rules, and per-host sharing across ports', async (t) => {
  const origin = await startServer(t, (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const cookies: Record<string, string[]> = {
      '/set': [
        'plain=1; Path=/',
        'scoped=2; Path=/app',
        'insecure-secure=3; Path=/; Secure',
        '__Host-nope=4; Path=/',
        'gone=5; Path=/',
        'expired=6; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
      ],
      '/delete': ['gone=; Path=/; Max-Age=0'],
    };
    res.writeHead(200, { 'set-cookie': cookies[path] ?? [] }).end(req.headers.cookie ?? '');
  });
  const browser = new TestBrowser();

  await browser.request(`${origin}/set`);
  assert.deepEqual([...browser.cookies(`${origin}/`).keys()].sort(), ['gone', 'plain']);
  assert.equal(browser.cookieHeaderFor(`${origin}/app/page`), 'scoped=2; plain=1; gone=5');
  assert.equal(browser.cookieHeaderFor(`${origin}/application`), 'plain=1; gone=5');

  await browser.request(`${origin}/delete`);
  const echoed = await browser.request(`${origin}/`);
  assert.equal(echoed.body, 'plain=1');

  const otherPort = origin.replace(/:\d+$/, ':1');
  assert.equal(browser.cookieHeaderFor(otherPort), 'plain=1', 'cookies are per host, not per port');
  assert.equal(browser.cookieHeaderFor('http://localhost:1/'), '');

  browser.setCookie(origin, 'planted', 'x');
  assert.equal(browser.cookies(`${origin}/`).get('planted'), 'x');
  browser.clearCookies();
  assert.equal(browser.cookieHeaderFor(origin), '');
});

test('browser: navigations send browser headers, follow redirects and turn POST into GET on 303', async (t) => {
  const seen: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: string }> = [];
  const origin = await startServer(t, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => answer(req, res, body));
  });
  function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ method: req.method ?? '', path, headers: req.headers, body });
    if (path === '/form') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<form method="POST" action="submit?x=1"><input type="hidden" name="csrf" value="a&amp;b"></form>',
      );
    } else if (path === '/submit') res.writeHead(303, { location: '/done' }).end();
    else if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.writeHead(200).end('done');
  }
  const browser = new TestBrowser();

  const form = await browser.navigate(`${origin}/form`);
  assert.equal(seen[0]?.headers['sec-fetch-mode'], 'navigate');
  assert.equal(seen[0].headers['sec-fetch-site'], 'none');
  assert.equal(seen[0].headers['origin'], undefined);

  const { final, chain } = await submitFirstForm(browser, form.final, { extra: 'y' });
  assert.deepEqual(
    chain.map((response) => response.status),
    [303, 200],
  );
  assert.equal(final.url, `${origin}/done`);
  const [post, get] = seen.slice(1);
  assert.equal(post?.method, 'POST');
  assert.equal(post.path, '/submit');
  assert.equal(post.headers['origin'], origin);
  assert.equal(post.headers['sec-fetch-site'], 'same-origin');
  assert.equal(post.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(post.body, 'csrf=a%26b&extra=y');
  assert.equal(get?.method, 'GET');
  assert.equal(get.headers['origin'], undefined);

  await assert.rejects(browser.navigate(`${origin}/loop`), /more than 20 redirects/);
});
