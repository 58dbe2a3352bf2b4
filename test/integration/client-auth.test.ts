// The three client authentication methods and claim mapping, each against the real local IdP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { CLIENT_ID, CLIENT_SECRET, startStack, type StackOptions } from '../support/gateway-stack.js';
import { newSigningKey } from '../support/jwks.js';

const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

async function loginAndEcho(options: StackOptions, user: string): Promise<Record<string, string>> {
  const stack = await startStack(options);
  try {
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    const { final: landing } = await loginAtLocalIdp(browser, loginPage, user, user);
    assert.equal(landing.status, 200, landing.body.slice(0, 300));
    const echo = await browser.request(`${stack.publicUrl}/`, { headers: api });
    return (JSON.parse(echo.body) as { headers: Record<string, string> }).headers;
  } finally {
    await stack.close();
  }
}

describe('client authentication at the token endpoint', () => {
  test('client_secret_post', async () => {
    const headers = await loginAndEcho(
      {
        provider: { clientAuth: 'client_secret_post' },
        idpClient: (callback, loggedOut) => ({
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [callback],
          post_logout_redirect_uris: [loggedOut],
          token_endpoint_auth_method: 'client_secret_post',
        }),
      },
      'alice',
    );
    assert.equal(headers['x-auth-request-user'], 'alice');
  });

  for (const keyType of ['ec', 'rsa'] as const) {
    test(`private_key_jwt with an ${keyType.toUpperCase()} key`, async () => {
      const key = newSigningKey(keyType === 'ec' ? 'ES256' : 'RS256', 'gw-1');
      const headers = await loginAndEcho(
        {
          provider: {
            clientAuth: 'private_key_jwt',
            clientSecret: undefined,
            privateKey: key.privatePem(),
            privateKeyId: 'gw-1',
          },
          idpClient: (callback, loggedOut) => ({
            client_id: CLIENT_ID,
            redirect_uris: [callback],
            post_logout_redirect_uris: [loggedOut],
            token_endpoint_auth_method: 'private_key_jwt',
            jwks: { keys: [key.publicJwk] },
          }),
        },
        'bob',
      );
      assert.equal(headers['x-auth-request-user'], 'bob');
    });
  }

  test('a wrong client secret fails the login with a clear refusal, no session', async () => {
    const stack = await startStack({ provider: { clientSecret: 'not-the-secret' } });
    try {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
      const { final } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      assert.equal(final.status, 401);
      assert.match(final.body, /PC_LOGIN_REJECTED/);
      assert.doesNotMatch(final.body, /not-the-secret/);
      assert.equal((await browser.request(`${stack.publicUrl}/`, { headers: api })).status, 401);
      assert.doesNotMatch(stack.primary.logs.text, /not-the-secret/);
    } finally {
      await stack.close();
    }
  });
});

describe('claim mapping', () => {
  test('groups from a dot path (realm_access.roles) and username from a chosen claim', async () => {
    const headers = await loginAndEcho(
      { provider: { claims: { username: 'email', groups: 'realm_access.roles' } } },
      'bob',
    );
    assert.equal(headers['x-auth-request-user'], 'bob@example.com');
    assert.equal(headers['x-auth-request-groups'], 'all-users,eng');
  });

  test('without the groups scope the user has no groups and /admins/ is denied', async () => {
    const stack = await startStack({ provider: { scopes: ['openid', 'profile', 'email'] } });
    try {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
      await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      assert.equal((await browser.request(`${stack.publicUrl}/admins/`, { headers: api })).status, 403);
      const echo = await browser.request(`${stack.publicUrl}/`, { headers: api });
      assert.equal(
        (JSON.parse(echo.body) as { headers: Record<string, string> }).headers['x-auth-request-groups'],
        'all-users',
      );
    } finally {
      await stack.close();
    }
  });

  test('an IdP that lists no groups leaves the directory memberships as they were', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-sync-'));
    try {
      // First login with the groups scope: alice is synced into admins and eng.
      const withGroups = await loginAndEcho({ dataDir }, 'alice');
      assert.equal(withGroups['x-auth-request-groups'], 'admins,all-users,eng');
      // Next login, the IdP sends no groups claim at all: the memberships stay.
      const withoutGroups = await loginAndEcho(
        { dataDir, provider: { scopes: ['openid', 'profile', 'email'] } },
        'alice',
      );
      assert.equal(withoutGroups['x-auth-request-groups'], 'admins,all-users,eng');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
