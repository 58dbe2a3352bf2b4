// Identity binding through a real OIDC login (issue 12): what the app receives for users whose IdP
// sends a malformed email or an email_verified that is not a clear yes. The app must see no email
// for them, and an emailDomains rule must refuse them; a clean, verified address still works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalIdpUser } from '../../dev/local-idp.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

function user(username: string, email: string, emailVerified: unknown): LocalIdpUser {
  return {
    username,
    password: username,
    claims: { sub: `sub-${username}`, preferred_username: username, email, email_verified: emailVerified },
  };
}

const USERS = [
  user('clean', 'clean@example.com', true),
  user('stringtrue', 'stringtrue@example.com', 'true'),
  user('twoats', 'attacker@evil.test@example.com', true),
  user('crlf', 'crlf@example.com\r\nX-Injected: 1', true),
  user('stringfalse', 'stringfalse@example.com', 'false'),
  user('zero', 'zero@example.com', 0),
  user('no', 'no@example.com', 'no'),
];

describe('emails a real IdP sends, as the app receives them', () => {
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack({
      idpUsers: USERS,
      routes: (echoUrl) => [
        { id: 'by-domain', path: '/by-domain/', upstream: echoUrl, allow: { emailDomains: ['example.com'] } },
        { id: 'app', path: '/', upstream: echoUrl, allow: { authenticated: true } },
      ],
    });
  });
  after(async () => {
    await stack?.close();
  });

  async function signedIn(username: string): Promise<TestBrowser> {
    assert.ok(stack);
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    const { final: landing } = await loginAtLocalIdp(browser, loginPage, username, username);
    assert.equal(landing.status, 200, `${username} signed in`);
    return browser;
  }

  for (const [username, email] of [
    ['clean', 'clean@example.com'],
    ['stringtrue', 'stringtrue@example.com'],
  ] as const) {
    test(`${username}: a verified, well-formed address reaches the app and passes emailDomains`, async () => {
      assert.ok(stack);
      const browser = await signedIn(username);
      const before = stack.echo.requests.length;
      assert.equal((await browser.request(`${stack.publicUrl}/by-domain/x`)).status, 200);
      assert.equal(stack.echo.requests.slice(before).at(-1)?.headers['x-auth-request-email'], email);
    });
  }

  for (const username of ['twoats', 'crlf', 'stringfalse', 'zero', 'no']) {
    test(`${username}: no email reaches the app, and emailDomains refuses`, async () => {
      assert.ok(stack);
      const browser = await signedIn(username);
      const before = stack.echo.requests.length;
      assert.equal(
        (await browser.request(`${stack.publicUrl}/x`)).status,
        200,
        'signed in, on the open route',
      );
      const seen = stack.echo.requests.slice(before).at(-1);
      assert.ok(seen);
      assert.equal(seen.headers['x-auth-request-user'], username);
      assert.equal(seen.headers['x-auth-request-email'] ?? '', '', 'no email header value');
      assert.equal(seen.headers['x-injected'], undefined);
      assert.equal((await browser.request(`${stack.publicUrl}/by-domain/x`)).status, 403);
    });
  }
});
