// The ID token for RP-initiated logout lives in a sealed cookie scoped to {prefix}/logout, not in
// the session record (issue 7): checked against the records in Redis, the id_token_hint the OP
// issued, a hint moved into another user's browser, the upstream, a second replica, and an ID token
// too large for a cookie (kept in the session as before).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { demoUsers, type LocalIdpUser } from '../../dev/local-idp.js';
import { loginAtLocalIdp, TestBrowser, type BrowserResponse } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';

const redisBinary = requireBinary('redis-server', 'redis-server');
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const HINT = 'portcullis-logout';

/** A user whose ID token (every groups claim is in it) is too large for the sealed cookie. */
const carol: LocalIdpUser = {
  username: 'carol',
  password: 'carol',
  claims: {
    sub: 'carol',
    email: 'carol@example.com',
    preferred_username: 'carol',
    groups: Array.from({ length: 100 }, (_, i) => `team-${String(i).padStart(3, '0')}-long-name`),
  },
};

interface SignedIn {
  browser: TestBrowser;
  /** The gateway's answer on the OIDC callback, where the hint cookie is set. */
  callback: BrowserResponse;
}

async function signIn(stack: Stack, user: string): Promise<SignedIn> {
  const browser = new TestBrowser();
  const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
  const { final, chain } = await loginAtLocalIdp(browser, loginPage, user, user);
  assert.equal(final.status, 200, `${user} lands on the app`);
  const callback = chain.find((r) => new URL(r.url).pathname === '/.portcullis/callback/local');
  assert.ok(callback, 'the login went through the callback');
  return { browser, callback };
}

function hintSetCookie(response: BrowserResponse): string | undefined {
  return (response.headers['set-cookie'] ?? []).find((line) => line.startsWith(`${HINT}=`));
}

/** POST {prefix}/logout as the app's sign-out button does; the end-session URL it redirects to. */
async function logOut(
  stack: Stack,
  browser: TestBrowser,
): Promise<{ response: BrowserResponse; endSession: URL }> {
  const response = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
    method: 'POST',
    form: {},
    referrer: `${stack.publicUrl}/`,
  });
  assert.equal(response.status, 303);
  const endSession = new URL(response.headers.location ?? '');
  assert.equal(endSession.origin, stack.idp.issuer, 'RP-initiated logout at the OP');
  return { response, endSession };
}

/** Every session record the gateway wrote to Redis, as stored. */
async function sessionRecords(redis: Redis, stack: Stack): Promise<Array<{ key: string; value: string }>> {
  const keyPrefix = (stack.rawConfig.session as { redis: { keyPrefix: string } }).redis.keyPrefix;
  const keys = await redis.keys(`${keyPrefix}sess:*`);
  const values = await Promise.all(keys.map((key) => redis.get(key)));
  return keys.map((key, i) => ({ key, value: values[i] ?? '' }));
}

describe(
  'logout hint cookie: the ID token outside the session record',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  () => {
    let redisServer: TestRedis;
    let redis: Redis;
    let stack: Stack;

    before(async () => {
      redisServer = await startRedisServer();
      redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
      stack = await startStack({
        store: 'redis',
        redisUrl: redisServer.url,
        sessionSecret: randomBytes(32).toString('hex'),
        idpUsers: [...demoUsers, carol],
      });
    });
    after(async () => {
      await stack.close();
      redis.disconnect();
      await redisServer.close();
    });

    test('after login the record holds no ID token; the sealed one is in a cookie only /logout receives', async () => {
      const { browser, callback } = await signIn(stack, 'alice');
      const issued = stack.idp.lastIdTokenFor('alice');
      assert.ok(issued);

      const records = await sessionRecords(redis, stack);
      const alices = records.filter((r) => r.value.includes('"subject":"local:alice"'));
      assert.equal(alices.length, 1, 'one signed-in session');
      for (const { key, value } of records) {
        assert.equal(value.includes('idToken'), false, key);
        assert.equal(value.includes(issued), false, key);
        assert.equal(value.includes(issued.split('.')[2] ?? issued), false, key);
      }

      const set = hintSetCookie(callback);
      assert.ok(set, 'Set-Cookie for the hint on the callback');
      assert.match(set, /; Path=\/\.portcullis\/logout(;|$)/);
      assert.match(set, /; HttpOnly(;|$)/);
      assert.match(set, /; SameSite=Lax(;|$)/);
      assert.match(set, /; Max-Age=86400(;|$)/, 'the absolute timeout (24h by default)');
      assert.doesNotMatch(set, /; Domain=/);
      assert.doesNotMatch(set, /; Secure/, 'publicUrl is http here');
      const sealed = /^[^=]+=([^;]*)/.exec(set)?.[1] ?? '';
      assert.match(sealed, /^[A-Za-z0-9_-]{100,}$/);
      assert.equal(sealed.includes(issued.split('.')[1] ?? issued), false, 'encrypted, not encoded');

      assert.ok(browser.cookies(`${stack.publicUrl}/.portcullis/logout`).has(HINT));
      for (const path of [
        '/',
        '/admins/',
        '/.portcullis/userinfo',
        '/.portcullis/auth',
        '/.portcullis/logouts',
      ]) {
        assert.equal(browser.cookies(`${stack.publicUrl}${path}`).has(HINT), false, path);
      }
    });

    test('logout sends the id token the OP issued as id_token_hint, and clears the hint', async () => {
      const { browser } = await signIn(stack, 'alice');
      const issued = stack.idp.lastIdTokenFor('alice');
      assert.ok(issued);
      const { response, endSession } = await logOut(stack, browser);
      assert.equal(endSession.searchParams.get('id_token_hint'), issued);
      assert.equal(endSession.searchParams.get('client_id'), 'portcullis-test');

      const cleared = hintSetCookie(response);
      assert.ok(cleared, 'the hint cookie is cleared');
      assert.match(cleared, new RegExp(`^${HINT}=;`));
      assert.match(cleared, /; Path=\/\.portcullis\/logout(;|$)/);
      assert.match(cleared, /; Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      assert.equal(browser.cookies(`${stack.publicUrl}/.portcullis/logout`).has(HINT), false);

      // The OP accepts the hint: its logout confirmation, not an error page.
      const atOp = await browser.request(endSession.href);
      assert.equal(atOp.status, 200, atOp.body.slice(0, 300));
      assert.equal(stack.primary.logs.text.includes(issued.split('.')[2] ?? issued), false, 'never logged');
    });

    test("attack: alice's hint cookie in bob's browser gives bob's logout no id_token_hint", async () => {
      const alice = await signIn(stack, 'alice');
      const aliceHint = alice.browser.cookies(`${stack.publicUrl}/.portcullis/logout`).get(HINT);
      assert.ok(aliceHint);
      const bob = await signIn(stack, 'bob');
      const bobSession = bob.browser.cookies(`${stack.publicUrl}/`).get('portcullis');
      assert.ok(bobSession);
      // Bob's browser keeps his session but carries alice's sealed token instead of his own.
      bob.browser.clearCookies();
      bob.browser.setCookie(stack.publicUrl, 'portcullis', bobSession);
      bob.browser.setCookie(stack.publicUrl, HINT, aliceHint);
      assert.equal((await bob.browser.request(`${stack.publicUrl}/`, { headers: api })).status, 200);

      const { endSession } = await logOut(stack, bob.browser);
      assert.equal(endSession.searchParams.get('id_token_hint'), null);
      assert.equal(endSession.searchParams.get('client_id'), 'portcullis-test');
      assert.match(stack.primary.logs.text, /logout hint cookie does not open for this session/);
      assert.equal(stack.primary.logs.text.includes(aliceHint), false, 'the sealed value is not logged');
      // Alice's own logout still works with her cookie.
      const { endSession: hers } = await logOut(stack, alice.browser);
      assert.equal(hers.searchParams.get('id_token_hint'), stack.idp.lastIdTokenFor('alice'));
    });

    test('a tampered or missing hint means a logout without id_token_hint', async () => {
      const { browser } = await signIn(stack, 'bob');
      const hint = browser.cookies(`${stack.publicUrl}/.portcullis/logout`).get(HINT) ?? '';
      const session = browser.cookies(`${stack.publicUrl}/`).get('portcullis') ?? '';
      const tampered = `${hint.slice(0, 40)}${hint[40] === 'A' ? 'B' : 'A'}${hint.slice(41)}`;
      browser.clearCookies();
      browser.setCookie(stack.publicUrl, 'portcullis', session);
      browser.setCookie(stack.publicUrl, HINT, tampered);
      assert.equal((await logOut(stack, browser)).endSession.searchParams.get('id_token_hint'), null);

      const second = await signIn(stack, 'bob');
      const secondSession = second.browser.cookies(`${stack.publicUrl}/`).get('portcullis') ?? '';
      second.browser.clearCookies();
      second.browser.setCookie(stack.publicUrl, 'portcullis', secondSession);
      assert.equal((await logOut(stack, second.browser)).endSession.searchParams.get('id_token_hint'), null);
      assert.match(stack.primary.logs.text, /no logout hint cookie: logout without id_token_hint/);
    });

    test('the upstream never receives the hint cookie', async () => {
      const { browser } = await signIn(stack, 'alice');
      assert.ok(browser.cookies(`${stack.publicUrl}/.portcullis/logout`).has(HINT));
      for (const path of ['/', '/admins/x', '/public/page', '/logout', '/.portcullis-logout']) {
        const response = await browser.request(`${stack.publicUrl}${path}`, { headers: api });
        assert.equal(response.status, 200, path);
        const echo = JSON.parse(response.body) as { headers: Record<string, string | undefined> };
        assert.equal(echo.headers.cookie?.includes(`${HINT}=`) ?? false, false, path);
      }
    });

    test('a hint sealed on one replica opens on another (shared secrets)', async () => {
      const replica = await stack.startReplica();
      const { browser } = await signIn(stack, 'alice');
      const response = await browser.request(`http://localhost:${replica.gateway.port}/.portcullis/logout`, {
        method: 'POST',
        form: {},
        referrer: `http://localhost:${replica.gateway.port}/`,
        // The replica's publicUrl is the primary's: the browser's Origin is that origin.
        headers: { origin: stack.publicUrl },
      });
      assert.equal(response.status, 303);
      const endSession = new URL(response.headers.location ?? '');
      assert.equal(endSession.searchParams.get('id_token_hint'), stack.idp.lastIdTokenFor('alice'));
    });

    test('an ID token too large for a cookie stays in the session, and logout still sends it', async () => {
      const { browser, callback } = await signIn(stack, 'carol');
      const issued = stack.idp.lastIdTokenFor('carol');
      assert.ok(issued && issued.length > 2900, `carol's ID token is ${issued?.length} characters`);
      const set = hintSetCookie(callback);
      assert.ok(set, 'an earlier hint is cleared');
      assert.match(set, new RegExp(`^${HINT}=;`));
      assert.equal(browser.cookies(`${stack.publicUrl}/.portcullis/logout`).has(HINT), false);
      const carols = (await sessionRecords(redis, stack)).filter((r) =>
        r.value.includes('"subject":"local:carol"'),
      );
      assert.equal(carols.length, 1);
      assert.equal((JSON.parse(carols[0]?.value ?? '{}') as { idToken?: string }).idToken, issued);

      const { endSession } = await logOut(stack, browser);
      assert.equal(endSession.searchParams.get('id_token_hint'), issued);
    });
  },
);
