// Forged and malformed ID tokens from a hostile OP: every one must be refused at the callback, leave the
// browser without a session, and never let an identity reach the app. The honest login ('none') through
// the very same setup runs first, so a broken setup cannot make the refusals pass vacuously.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBrowser } from '../support/browser.js';
import { HOSTILE_ID_TOKEN_ATTACKS, type IdTokenAttack } from '../support/rogue-op.js';
import {
  API_HEADERS,
  assertNotSignedIn,
  deliverCallback,
  parseJson,
  requestsWithIdentity,
  startLogin,
  startRogueStack,
  userinfo,
  type RogueStack,
} from '../support/rogue-stack.js';

/**
 * The check each attack must trip, as the gateway logs it (openid-client's reason). Proves every token is
 * refused by the check meant for it, not by some unrelated failure earlier in the flow.
 */
const EXPECTED_REASON: Record<Exclude<IdTokenAttack, 'none'>, RegExp> = {
  'bad-signature': /signature verification failed/,
  'unknown-kid': /no applicable keys found/,
  'wrong-issuer': /"iss" \(issuer\)/,
  'wrong-audience': /"aud" \(audience\)/,
  expired: /"exp" \(expiration time\)/,
  'not-yet-valid': /"nbf" \(not before\)/,
  'wrong-nonce': /"nonce" claim value/,
  'missing-nonce': /"nonce" \(nonce\) claim missing/,
  'alg-none': /unexpected JWT "alg"/,
  'hs256-public-key': /unexpected JWT "alg"/,
  'hs256-jwk-n': /unexpected JWT "alg"/,
  'tampered-payload': /signature verification failed/,
  'azp-mismatch': /"azp" \(authorized party\)/,
};

/** The message of the gateway's log line for one refused request, found by the requestId it answered with. */
function loggedReason(stack: RogueStack, requestId: unknown): string {
  for (const line of stack.gateway.logs.lines) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry['requestId'] === requestId) return String(entry['msg']);
  }
  return `(no log line with requestId ${String(requestId)})`;
}

describe('hostile ID tokens are refused at the callback', () => {
  let stack: RogueStack;
  before(async () => {
    stack = await startRogueStack();
  });
  after(() => stack.close());

  test('baseline: an honest ID token (attack none) signs in as rogue:mallory and the app gets the identity', async () => {
    stack.rogue.setAttack('none');
    const browser = new TestBrowser();
    const { chain, final } = await browser.navigate(`${stack.publicUrl}/.portcullis/login?rd=%2Fhello`);
    const callback = chain.find((response) => response.url.startsWith(stack.callbackUrl));
    assert.ok(callback, `the navigation never reached the callback: ${chain.map((r) => r.url).join(' -> ')}`);
    assert.equal(callback.status, 302, callback.body);
    assert.equal(callback.headers.location, '/hello');
    assert.equal(final.status, 200);
    const info = await userinfo(stack, browser);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body['sub'], 'rogue:mallory');
    const echo = await browser.request(`${stack.publicUrl}/hello`, { headers: { ...API_HEADERS } });
    assert.equal(echo.status, 200);
    assert.equal(stack.echo.requests.at(-1)?.headers['x-auth-request-user'], 'mallory');
  });

  for (const attack of HOSTILE_ID_TOKEN_ATTACKS) {
    test(`${attack}: the callback is refused with 401 PC_LOGIN_REJECTED and no session exists`, async () => {
      stack.rogue.setAttack(attack);
      const seenBefore = stack.echo.requests.length;
      const tokenRequestsBefore = stack.rogue.tokenRequests.length;
      try {
        // As an API client: the JSON error code.
        const apiBrowser = new TestBrowser();
        const apiLogin = await startLogin(stack, apiBrowser);
        const refused = await deliverCallback(stack, apiBrowser, apiLogin.callbackUrl, { ...API_HEADERS });
        assert.equal(refused.status, 401, `${attack}: ${refused.status} ${refused.body.slice(0, 300)}`);
        assert.equal(refused.headers.location, undefined);
        const body = parseJson(refused);
        assert.equal(body['error'], 'PC_LOGIN_REJECTED');
        const reason = attack === 'none' ? undefined : EXPECTED_REASON[attack];
        assert.ok(reason, `no expected reason listed for ${attack}`);
        assert.match(loggedReason(stack, body['requestId']), reason);
        await assertNotSignedIn(stack, apiBrowser, attack);

        // As a browser following every redirect from /login: the HTML error page, and no way in.
        const browser = new TestBrowser();
        const { chain, final } = await browser.navigate(`${stack.publicUrl}/.portcullis/login`);
        assert.equal(final.url.split('?')[0], stack.callbackUrl, chain.map((r) => r.url).join(' -> '));
        assert.equal(final.status, 401, `${attack}: ${final.status} ${final.body.slice(0, 300)}`);
        assert.match(String(final.headers['content-type']), /^text\/html/);
        assert.match(final.body, /Sign-in failed/);
        assert.match(final.body, /PC_LOGIN_REJECTED/);
        await assertNotSignedIn(stack, browser, attack);

        // The gateway did reach the token endpoint (the refusal is about the token, not the plumbing)...
        const tokenRequests = stack.rogue.tokenRequests.slice(tokenRequestsBefore);
        assert.equal(tokenRequests.length, 2, `${attack}: expected one code exchange per login`);
        assert.ok(tokenRequests.every((record) => record.pkceOk));
        // ...and the app never saw a request carrying an identity.
        const seen = requestsWithIdentity(stack.echo.requests.slice(seenBefore));
        assert.deepEqual(
          seen.map((request) => request.url),
          [],
          `${attack}: the app received identity headers`,
        );
      } finally {
        stack.rogue.setAttack('none');
      }
    });
  }
});
