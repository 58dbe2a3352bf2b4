// Forward-auth as Traefik ForwardAuth and Envoy ext_authz call it, and the trust rule: the
// original-request headers count only from configured trusted proxies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function signedIn(stack: Stack, user: string): Promise<TestBrowser> {
  const browser = new TestBrowser();
  const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
  await loginAtLocalIdp(browser, loginPage, user, user);
  return browser;
}

describe('forward-auth for Traefik and Envoy (trusted loopback proxy)', () => {
  let stack: Stack;
  let auth: string;
  before(async () => {
    stack = await startStack({
      extra: { server: { trustProxy: ['loopback'], allowedRedirectHosts: ['apps.example.test'] } },
    });
    auth = `${stack.publicUrl}/.portcullis/auth`;
  });
  after(() => stack.close());

  const traefik = (uri: string, extra: Record<string, string> = {}) => ({
    'x-forwarded-method': 'GET',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'apps.example.test',
    'x-forwarded-uri': uri,
    ...extra,
  });

  test('Traefik: an unauthenticated browser gets the 302 to sign in with the original URL', async () => {
    const response = await new TestBrowser().request(auth, { headers: traefik('/reports?y=1') });
    assert.equal(response.status, 302);
    const login = new URL(response.headers.location ?? '');
    assert.equal(login.pathname, '/.portcullis/login');
    assert.equal(login.searchParams.get('rd'), 'https://apps.example.test/reports?y=1');
  });

  test('Traefik: an API client gets 401', async () => {
    const response = await new TestBrowser().request(auth, { headers: traefik('/reports', api) });
    assert.equal(response.status, 401);
  });

  test('Traefik: a signed-in user gets 200 with the identity headers; policy from the original path', async () => {
    const bob = await signedIn(stack, 'bob');
    const ok = await bob.request(auth, { headers: traefik('/x') });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-auth-request-user'], 'bob');
    assert.equal(ok.headers['x-auth-request-groups'], 'all-users,eng');
    assert.ok(String(ok.headers['x-portcullis-assertion']).split('.').length === 3);
    assert.equal((await bob.request(auth, { headers: traefik('/admins/x') })).status, 403);
    assert.equal((await bob.request(auth, { headers: traefik('/x/../admins/') })).status, 403);
    assert.equal((await bob.request(auth, { headers: traefik('/admins%2fx') })).status, 403);
  });

  test('Envoy ext_authz: the original path follows the auth path', async () => {
    const alice = await signedIn(stack, 'alice');
    const ok = await alice.request(`${auth}/admins/x?q=1`, { headers: api });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-auth-request-user'], 'alice');
    const bob = await signedIn(stack, 'bob');
    assert.equal((await bob.request(`${auth}/admins/x`, { headers: api })).status, 403);
  });

  test('a public route answers 200 without identity headers', async () => {
    const response = await new TestBrowser().request(auth, { headers: traefik('/public/page') });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-auth-request-user'], undefined);
  });

  test('no original request at all is refused with 403 (never 400: nginx would make it a 500)', async () => {
    const response = await new TestBrowser().request(auth, { headers: api });
    assert.equal(response.status, 403);
    assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_FORWARD_AUTH_REFUSED');
  });
});

describe('forward-auth with no trusted proxies configured', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  for (const headers of [
    { 'x-forwarded-uri': '/public/x', 'x-forwarded-host': 'localhost' },
    { 'x-original-url': 'http://localhost/public/x' },
    { 'x-original-uri': '/public/x' },
  ]) {
    test(`original-request headers from an untrusted peer are refused: ${Object.keys(headers).join(', ')}`, async () => {
      const response = await new TestBrowser().request(`${stack.publicUrl}/.portcullis/auth`, {
        headers: { ...api, ...headers },
      });
      assert.equal(response.status, 403);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_FORWARD_AUTH_REFUSED');
    });
  }
});
