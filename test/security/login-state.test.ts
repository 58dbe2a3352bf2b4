// Misuse of the login's state, nonce and PKCE binding: missing or foreign state (login CSRF), replayed
// callbacks, authorization code injection, IdP errors and the login loop guard. The OP is honest
// (attack 'none'), so only the gateway's own checks are exercised; an honest login through the same
// setup runs first so a broken setup cannot make the refusals pass vacuously.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { TestBrowser, type BrowserResponse } from '../support/browser.js';
import {
  API_HEADERS,
  assertNotSignedIn,
  deliverCallback,
  parseJson,
  startLogin,
  startRogueStack,
  userinfo,
  type RogueStack,
} from '../support/rogue-stack.js';

const BASE64URL_22_OR_MORE = /^[A-Za-z0-9_-]{22,}$/;

/** A copy of `url` with query parameters set (string), repeated (array) or removed (null). */
function withParams(url: URL, changes: Record<string, string | string[] | null>): URL {
  const copy = new URL(url.href);
  for (const [name, value] of Object.entries(changes)) {
    copy.searchParams.delete(name);
    if (value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) copy.searchParams.append(name, item);
  }
  return copy;
}

function param(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  assert.ok(value !== null, `${url.href} has no ${name}`);
  return value;
}

function assertRefused(response: BrowserResponse, status: number, code: string, context: string): void {
  assert.equal(response.status, status, `${context}: got ${response.status} ${response.body.slice(0, 300)}`);
  assert.equal(response.headers.location, undefined, `${context}: must not redirect`);
  assert.equal(parseJson(response)['error'], code, context);
}

describe('login state, nonce and PKCE misuse', () => {
  let stack: RogueStack;
  before(async () => {
    stack = await startRogueStack();
    stack.rogue.setAttack('none');
  });
  after(() => stack.close());

  test('baseline: an honest login through the same setup signs in', async () => {
    const browser = new TestBrowser();
    const { callbackUrl } = await startLogin(stack, browser, '/start');
    const done = await deliverCallback(stack, browser, callbackUrl);
    assert.equal(done.status, 302, done.body);
    assert.equal(done.headers.location, '/start');
    const info = await userinfo(stack, browser);
    assert.equal(info.status, 200);
    assert.equal(info.body['sub'], 'rogue:mallory');
    assert.equal(
      (await browser.request(`${stack.publicUrl}/start`, { headers: { ...API_HEADERS } })).status,
      200,
    );
  });

  test('a callback without state, or with state repeated, is refused before any code exchange', async () => {
    for (const [label, state] of [
      ['no state', null],
      ['empty state', ''],
      ['state twice', 'twice'],
    ] as const) {
      const browser = new TestBrowser();
      const { callbackUrl } = await startLogin(stack, browser);
      const real = param(callbackUrl, 'state');
      const tokenRequestsBefore = stack.rogue.tokenRequests.length;
      const forged = withParams(callbackUrl, { state: state === 'twice' ? [real, real] : state });
      const response = await deliverCallback(stack, browser, forged, { ...API_HEADERS });
      assertRefused(response, 400, 'PC_LOGIN_STATE_INVALID', label);
      assert.equal(stack.rogue.tokenRequests.length, tokenRequestsBefore, `${label}: the code was exchanged`);
      await assertNotSignedIn(stack, browser, label);
    }
  });

  test('a callback with an unknown state is refused', async () => {
    const browser = new TestBrowser();
    const { callbackUrl } = await startLogin(stack, browser);
    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    const forged = withParams(callbackUrl, { state: randomBytes(32).toString('base64url') });
    assertRefused(
      await deliverCallback(stack, browser, forged, { ...API_HEADERS }),
      400,
      'PC_LOGIN_STATE_INVALID',
      'unknown state',
    );
    assert.equal(stack.rogue.tokenRequests.length, tokenRequestsBefore);
    await assertNotSignedIn(stack, browser, 'unknown state');
    // The refusal did not consume the real pending login: it still completes.
    const done = await deliverCallback(stack, browser, callbackUrl);
    assert.equal(done.status, 302, done.body);
    assert.equal((await userinfo(stack, browser)).status, 200);
  });

  test('login CSRF: the attacker’s callback URL delivered to a victim browser is refused', async () => {
    const attacker = new TestBrowser();
    const { callbackUrl: attackersCallback } = await startLogin(stack, attacker);

    // A victim with no gateway session at all, in HTML as a browser would show it...
    const fresh = new TestBrowser();
    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    const page = await deliverCallback(stack, fresh, attackersCallback);
    assert.equal(page.status, 400, page.body.slice(0, 300));
    assert.match(page.body, /PC_LOGIN_STATE_INVALID/);
    await assertNotSignedIn(stack, fresh, 'victim without a session');

    // ...and a victim with a login of its own in flight.
    const victim = new TestBrowser();
    const { callbackUrl: victimsCallback } = await startLogin(stack, victim);
    assertRefused(
      await deliverCallback(stack, victim, attackersCallback, { ...API_HEADERS }),
      400,
      'PC_LOGIN_STATE_INVALID',
      'victim with a pending login',
    );
    await assertNotSignedIn(stack, victim, 'victim with a pending login');
    // The attacker's code was never redeemed by the gateway on the victim's behalf.
    assert.equal(stack.rogue.tokenRequests.length, tokenRequestsBefore);

    // The victim's own login is unaffected and signs in as itself.
    assert.equal((await deliverCallback(stack, victim, victimsCallback)).status, 302);
    assert.equal((await userinfo(stack, victim)).status, 200);
  });

  test('replay: the same callback URL twice in the same browser, the second is refused', async () => {
    const browser = new TestBrowser();
    const { callbackUrl } = await startLogin(stack, browser, '/first');
    const first = await deliverCallback(stack, browser, callbackUrl);
    assert.equal(first.status, 302, first.body);
    assert.equal(first.headers.location, '/first');
    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    const second = await deliverCallback(stack, browser, callbackUrl, { ...API_HEADERS });
    assertRefused(second, 400, 'PC_LOGIN_STATE_INVALID', 'replay in the same browser');
    assert.equal(
      stack.rogue.tokenRequests.length,
      tokenRequestsBefore,
      'the replayed code was sent to the OP',
    );
  });

  test('replay: a callback URL used in browser A is refused in browser B, which has its own pending login', async () => {
    const a = new TestBrowser();
    const { callbackUrl: aCallback } = await startLogin(stack, a);
    assert.equal((await deliverCallback(stack, a, aCallback)).status, 302);
    assert.equal((await userinfo(stack, a)).status, 200);

    const b = new TestBrowser();
    await startLogin(stack, b);
    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    assertRefused(
      await deliverCallback(stack, b, aCallback, { ...API_HEADERS }),
      400,
      'PC_LOGIN_STATE_INVALID',
      'replay in B',
    );
    assert.equal(stack.rogue.tokenRequests.length, tokenRequestsBefore);
    await assertNotSignedIn(stack, b, 'replay in B');
  });

  test('code injection: B’s code delivered to A’s callback with A’s state fails PKCE and is refused', async () => {
    const a = new TestBrowser();
    const b = new TestBrowser();
    const { callbackUrl: aCallback } = await startLogin(stack, a);
    const { callbackUrl: bCallback } = await startLogin(stack, b);
    const bCode = param(bCallback, 'code');
    assert.notEqual(bCode, param(aCallback, 'code'));
    const injected = withParams(aCallback, { code: bCode });

    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    const response = await deliverCallback(stack, a, injected, { ...API_HEADERS });
    assertRefused(response, 401, 'PC_LOGIN_REJECTED', 'code injection');
    const exchanges = stack.rogue.tokenRequests.slice(tokenRequestsBefore);
    assert.equal(exchanges.length, 1, 'the gateway should have tried exactly one code exchange');
    assert.equal(exchanges[0]?.body.get('code'), bCode);
    assert.equal(exchanges[0].pkceOk, false, 'A’s verifier must not match B’s challenge');
    await assertNotSignedIn(stack, a, 'code injection (A)');
    await assertNotSignedIn(stack, b, 'code injection (B)');
  });

  test('the authorization request carries S256 PKCE and fresh, long state and nonce', async () => {
    const first = (await startLogin(stack, new TestBrowser())).authorizeUrl;
    const second = (await startLogin(stack, new TestBrowser())).authorizeUrl;
    for (const url of [first, second]) {
      assert.equal(param(url, 'response_type'), 'code');
      assert.equal(param(url, 'code_challenge_method'), 'S256');
      assert.match(param(url, 'code_challenge'), /^[A-Za-z0-9_-]{43}$/);
      assert.match(param(url, 'state'), BASE64URL_22_OR_MORE);
      assert.match(param(url, 'nonce'), BASE64URL_22_OR_MORE);
      assert.notEqual(param(url, 'state'), param(url, 'nonce'));
      assert.equal(param(url, 'redirect_uri'), stack.callbackUrl);
    }
    for (const name of ['state', 'nonce', 'code_challenge']) {
      assert.notEqual(param(first, name), param(second, name), `${name} repeats between logins`);
    }
    // The same browser starting again gets fresh values too.
    const browser = new TestBrowser();
    const again = [
      (await startLogin(stack, browser)).authorizeUrl,
      (await startLogin(stack, browser)).authorizeUrl,
    ];
    for (const name of ['state', 'nonce', 'code_challenge']) {
      assert.notEqual(
        param(again[0] as URL, name),
        param(again[1] as URL, name),
        `${name} repeats in one browser`,
      );
    }
  });

  test('the IdP answering error=access_denied is refused with 401 PC_LOGIN_PROVIDER_ERROR', async () => {
    const browser = new TestBrowser();
    const { callbackUrl } = await startLogin(stack, browser);
    const denied = new URL(stack.callbackUrl);
    denied.searchParams.set('error', 'access_denied');
    denied.searchParams.set('error_description', 'The user said no');
    denied.searchParams.set('state', param(callbackUrl, 'state'));
    const tokenRequestsBefore = stack.rogue.tokenRequests.length;
    assertRefused(
      await deliverCallback(stack, browser, denied, { ...API_HEADERS }),
      401,
      'PC_LOGIN_PROVIDER_ERROR',
      'access_denied',
    );
    assert.equal(stack.rogue.tokenRequests.length, tokenRequestsBefore);
    await assertNotSignedIn(stack, browser, 'access_denied');
    // The error consumed the pending login: the code that arrived earlier cannot be used after it.
    assertRefused(
      await deliverCallback(stack, browser, callbackUrl, { ...API_HEADERS }),
      400,
      'PC_LOGIN_STATE_INVALID',
      'callback after the error',
    );
  });

  test('the login loop guard: the sixth login start within a minute gets 508 PC_LOGIN_LOOP', async () => {
    const browser = new TestBrowser();
    for (let round = 1; round <= 5; round += 1) {
      const start = await browser.request(`${stack.publicUrl}/.portcullis/login`);
      assert.equal(start.status, 302, `round ${round}: ${start.status} ${start.body.slice(0, 200)}`);
      assert.equal(new URL(start.headers.location ?? '').origin, stack.rogue.issuer);
    }
    const page = await browser.request(`${stack.publicUrl}/.portcullis/login`);
    assert.equal(page.status, 508, page.body.slice(0, 300));
    assert.equal(page.headers.location, undefined);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /Sign-in loop stopped/);
    assert.match(page.body, /stopped the loop/);
    assert.match(page.body, /PC_LOGIN_LOOP/);
    const api = await browser.request(`${stack.publicUrl}/.portcullis/login`, {
      headers: { ...API_HEADERS },
    });
    assertRefused(api, 508, 'PC_LOGIN_LOOP', 'loop guard (API)');
    // Another browser is not affected.
    assert.equal((await new TestBrowser().request(`${stack.publicUrl}/.portcullis/login`)).status, 302);
  });
});
