// The whole flow through a real gateway: browser → gateway → local OIDC provider → gateway → echo app.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser, type BrowserResponse } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  assertion:
    | null
    | { valid: true; header: Record<string, unknown>; claims: Record<string, unknown> }
    | { valid: false; error: string };
}

const echoOf = (response: BrowserResponse): Echo => JSON.parse(response.body) as Echo;
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

export async function signIn(
  stack: Stack,
  user: string,
  path = '/',
): Promise<{ browser: TestBrowser; landing: BrowserResponse }> {
  const browser = new TestBrowser();
  const { final: loginPage } = await browser.navigate(`${stack.publicUrl}${path}`);
  assert.equal(
    loginPage.status,
    200,
    `expected the IdP login form, got ${loginPage.status} at ${loginPage.url}`,
  );
  const { final: landing } = await loginAtLocalIdp(browser, loginPage, user, user);
  return { browser, landing };
}

describe('OIDC login through the gateway (memory store)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test('an unauthenticated browser is sent straight to the IdP, and lands back where it started', async () => {
    const browser = new TestBrowser();
    const first = await browser.request(`${stack.publicUrl}/reports?year=2026`);
    assert.equal(first.status, 302);
    assert.equal(first.headers['x-portcullis-response'], 'gateway');
    // No detour through {prefix}/login: the gateway's own host answers with the authorization request.
    const authorize = new URL(first.headers.location ?? '');
    assert.equal(authorize.origin, stack.idp.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state'));
    assert.ok(authorize.searchParams.get('nonce'));
    assert.equal(authorize.searchParams.get('redirect_uri'), `${stack.publicUrl}/.portcullis/callback/local`);
    const { final } = await browser.navigate(authorize.href);
    const { final: landing } = await loginAtLocalIdp(browser, final, 'bob', 'bob');
    assert.equal(landing.status, 200);
    assert.equal(new URL(landing.url).pathname + new URL(landing.url).search, '/reports?year=2026');
  });

  test('on a host other than the public one, the browser is sent to the public origin to sign in', async () => {
    const port = new URL(stack.publicUrl).port;
    const first = await new TestBrowser().request(`http://127.0.0.1:${port}/reports?year=2026`);
    assert.equal(first.status, 302);
    const location = new URL(first.headers.location ?? '');
    assert.equal(location.origin, stack.publicUrl);
    assert.equal(location.pathname, '/.portcullis/login');
    assert.equal(location.searchParams.get('rd'), `http://127.0.0.1:${port}/reports?year=2026`);
  });

  test('an API request without a session gets 401 JSON, not a redirect', async () => {
    const browser = new TestBrowser();
    const curl = { accept: '*/*', 'sec-fetch-mode': '', 'sec-fetch-dest': '', 'sec-fetch-site': '' };
    for (const headers of [
      api,
      curl,
      { 'x-requested-with': 'XMLHttpRequest', accept: 'text/html', 'sec-fetch-mode': '' },
    ]) {
      const response = await browser.request(`${stack.publicUrl}/data`, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(response.headers['x-portcullis-response'], 'gateway');
      const body = JSON.parse(response.body) as { error: string; login: string };
      assert.equal(body.error, 'PC_LOGIN_REQUIRED');
      assert.match(body.login, /\/\.portcullis\/login\?rd=/);
    }
  });

  test('alice signs in, lands on her return URL and the app gets verified identity headers', async () => {
    const { browser, landing } = await signIn(stack, 'alice', '/reports?year=2026');
    assert.equal(landing.status, 200);
    assert.equal(new URL(landing.url).pathname, '/reports');
    const echo = echoOf(await browser.request(`${stack.publicUrl}/reports?year=2026`, { headers: api }));
    assert.equal(echo.url, '/reports?year=2026');
    assert.equal(echo.headers['x-auth-request-user'], 'alice');
    assert.equal(echo.headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(echo.headers['x-auth-request-groups'], 'admins,all-users,eng');
    assert.equal(echo.headers['x-auth-request-name'], 'Alice Example');
    assert.ok(echo.assertion?.valid, JSON.stringify(echo.assertion));
    assert.equal(echo.assertion.header.alg, 'ES256');
    assert.equal(echo.assertion.claims.sub, 'local:alice');
    assert.equal(echo.assertion.claims.aud, 'app');
    assert.equal(echo.assertion.claims.iss, stack.publicUrl);
    assert.deepEqual(echo.assertion.claims.groups, ['admins', 'all-users', 'eng']);
    assert.deepEqual(echo.assertion.claims.roles, ['admin']);
    const lifetime = Number(echo.assertion.claims.exp) - Number(echo.assertion.claims.iat);
    assert.ok(lifetime > 0 && lifetime <= 300, `assertion lifetime ${lifetime}s`);
    // The gateway's session cookie is not passed on to the app.
    assert.doesNotMatch(echo.headers.cookie ?? '', /portcullis/);
  });

  test('the session id changes at login (no fixation)', async () => {
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    const before = browser.cookies(stack.publicUrl).get('portcullis');
    assert.ok(before, 'a pre-login session holds the login state');
    await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
    const afterLogin = browser.cookies(stack.publicUrl).get('portcullis');
    assert.ok(afterLogin);
    assert.notEqual(afterLogin, before);
    // The anonymous session id planted before login is not signed in.
    const planted = new TestBrowser();
    planted.setCookie(stack.publicUrl, 'portcullis', before);
    assert.equal((await planted.request(`${stack.publicUrl}/`, { headers: api })).status, 401);
  });

  test('the assertion is audience-bound to the route, and cached per session and route', async () => {
    const { browser } = await signIn(stack, 'alice');
    const first = echoOf(await browser.request(`${stack.publicUrl}/admins/x`, { headers: api }));
    const second = echoOf(await browser.request(`${stack.publicUrl}/admins/y`, { headers: api }));
    const other = echoOf(await browser.request(`${stack.publicUrl}/z`, { headers: api }));
    assert.ok(first.assertion?.valid && other.assertion?.valid);
    assert.equal(first.assertion.claims.aud, 'admins');
    assert.equal(other.assertion.claims.aud, 'app');
    assert.equal(first.headers['x-portcullis-assertion'], second.headers['x-portcullis-assertion']);
  });

  test('policy: bob may use the app but gets 403 on /admins/; email and domain rules', async () => {
    const { browser, landing } = await signIn(stack, 'bob');
    assert.equal(landing.status, 200);
    const denied = await browser.request(`${stack.publicUrl}/admins/`);
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-portcullis-response'], 'gateway');
    assert.match(denied.body, /Access denied/);
    // '/admins' without the slash is the same segment: still denied, never the laxer '/' route.
    assert.equal((await browser.request(`${stack.publicUrl}/admins`, { headers: api })).status, 403);
    assert.equal((await browser.request(`${stack.publicUrl}/by-email/`, { headers: api })).status, 200);
    assert.equal((await browser.request(`${stack.publicUrl}/by-domain/`, { headers: api })).status, 200);
    assert.equal((await browser.request(`${stack.publicUrl}/nobody/`, { headers: api })).status, 403);
    const { browser: alice } = await signIn(stack, 'alice');
    assert.equal((await alice.request(`${stack.publicUrl}/admins/`, { headers: api })).status, 200);
    assert.equal((await alice.request(`${stack.publicUrl}/by-email/`, { headers: api })).status, 403);
  });

  test('a public route is proxied without a session and without identity', async () => {
    const browser = new TestBrowser();
    const response = await browser.request(`${stack.publicUrl}/public/page`, { headers: api });
    assert.equal(response.status, 200);
    const echo = echoOf(response);
    assert.equal(echo.headers['x-auth-request-user'], undefined);
    assert.equal(echo.assertion, null);
  });

  test('/userinfo returns the session identity; 401 without a session', async () => {
    const { browser } = await signIn(stack, 'alice');
    const info = await browser.request(`${stack.publicUrl}/.portcullis/userinfo`, { headers: api });
    assert.equal(info.status, 200);
    const body = JSON.parse(info.body) as Record<string, unknown>;
    assert.equal(body.sub, 'local:alice');
    assert.deepEqual(body.groups, ['admins', 'all-users', 'eng']);
    assert.deepEqual(body.roles, ['admin']);
    const anonymous = await new TestBrowser().request(`${stack.publicUrl}/.portcullis/userinfo`, {
      headers: api,
    });
    assert.equal(anonymous.status, 401);
  });

  test('/jwks.json publishes the ES256 public key and no private part', async () => {
    const response = await new TestBrowser().request(`${stack.publicUrl}/.portcullis/jwks.json`, {
      headers: api,
    });
    const jwks = JSON.parse(response.body) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.alg, 'ES256');
    assert.equal(jwks.keys[0].d, undefined);
  });

  test('logout: POST with the CSRF token ends the session and goes through the IdP end-session endpoint', async () => {
    const { browser } = await signIn(stack, 'alice');
    const logoutUrl = `${stack.publicUrl}/.portcullis/logout`;
    assert.ok(browser.cookies(logoutUrl).has('portcullis-logout'), 'the sealed ID token for the logout');
    const page = await browser.request(`${stack.publicUrl}/.portcullis/logout`);
    assert.equal(page.status, 200);
    const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(token);
    const logout = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
      method: 'POST',
      form: { csrf: token },
    });
    assert.equal(logout.status, 303);
    const endSession = new URL(logout.headers.location ?? '');
    assert.equal(endSession.origin, stack.idp.issuer);
    assert.equal(
      endSession.searchParams.get('post_logout_redirect_uri'),
      `${stack.publicUrl}/.portcullis/logged-out`,
    );
    // The very token the OP issued at this login, opened from the logout hint cookie.
    const issued = stack.idp.lastIdTokenFor('alice');
    assert.ok(issued);
    assert.equal(endSession.searchParams.get('id_token_hint'), issued);
    assert.equal(browser.cookies(logoutUrl).has('portcullis-logout'), false, 'cleared at logout');
    assert.equal((await browser.request(`${stack.publicUrl}/`, { headers: api })).status, 401);
    assert.equal(stack.primary.logs.text.includes(issued.split('.')[2] ?? issued), false, 'never logged');
  });

  test('logout: a cross-site POST without the token is refused and the session survives', async () => {
    const { browser } = await signIn(stack, 'alice');
    const forged = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
      method: 'POST',
      form: { csrf: 'guessed' },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(forged.status, 403);
    const noOrigin = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
      method: 'POST',
      form: {},
    });
    assert.equal(noOrigin.status, 403);
    assert.equal((await browser.request(`${stack.publicUrl}/`, { headers: api })).status, 200);
  });

  test('logout from the app page (same-origin form POST) works', async () => {
    const { browser } = await signIn(stack, 'bob');
    const response = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
      method: 'POST',
      form: {},
      referrer: `${stack.publicUrl}/`,
    });
    assert.equal(response.status, 303);
    assert.equal((await browser.request(`${stack.publicUrl}/`, { headers: api })).status, 401);
  });

  test('the login chooser is skipped with one provider; unknown provider is 404', async () => {
    const browser = new TestBrowser();
    assert.equal(
      (await browser.request(`${stack.publicUrl}/.portcullis/login/nope`, { headers: api })).status,
      404,
    );
    assert.equal(
      (await browser.request(`${stack.publicUrl}/.portcullis/nothing-here`, { headers: api })).status,
      404,
    );
  });
});
