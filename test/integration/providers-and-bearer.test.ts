// Several providers through one gateway: the chooser, routes that accept only some providers, API
// clients with bearer tokens verified against the issuing provider's JWKS, and the directory sync
// that turns an IdP login into groups and roles.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { startLocalIdp, type LocalIdp } from '../../dev/local-idp.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from '../support/gateway-stack.js';
import { startRogueOp, type RogueOp } from '../support/rogue-op.js';

const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const AUDIENCE = 'api://portcullis-tests';

describe('several providers, provider-restricted routes and bearer tokens', () => {
  let idp: LocalIdp;
  let rogue: RogueOp;
  let echo: EchoApp;
  let gateway: GatewayInstance;
  let publicUrl: string;
  let dataDir: string;

  before(async () => {
    const port = await freePort();
    publicUrl = `http://localhost:${port}`;
    idp = await startLocalIdp({
      clients: [
        {
          client_id: 'gw',
          client_secret: 'gw-secret',
          redirect_uris: [`${publicUrl}/.portcullis/callback/local`],
        },
      ],
    });
    rogue = await startRogueOp({ clientId: 'gw', clientSecret: 'gw-secret' });
    echo = await startEchoApp();
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-providers-'));
    const provider = {
      type: 'oidc',
      clientId: 'gw',
      clientSecret: 'gw-secret',
      insecureAllowHttpIssuer: true,
    };
    gateway = await startGatewayFromRaw(
      {
        server: { publicUrl },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          {
            ...provider,
            id: 'local',
            displayName: 'Corporate SSO',
            issuer: idp.issuer,
            scopes: ['openid', 'profile', 'email', 'groups'],
            claims: { username: 'preferred_username' },
          },
          { ...provider, id: 'partner', displayName: 'Partner IdP', issuer: rogue.issuer },
        ],
        routes: [
          {
            id: 'partner-app',
            path: '/partner/',
            upstream: echo.url,
            providers: ['partner'],
            allow: { authenticated: true },
          },
          {
            id: 'api',
            path: '/api/',
            upstream: echo.url,
            bearer: { providers: ['partner'], audience: AUDIENCE },
            allow: { roles: ['admin'] },
          },
          { id: 'app', path: '/', upstream: echo.url, allow: { authenticated: true } },
        ],
        groups: { default: ['all-users'] },
        roles: { admin: { groups: ['admins'] }, staff: { groups: ['eng', 'admins'] } },
        storage: { dataDir },
      },
      port,
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.allSettled([idp.close(), rogue.close(), echo.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the chooser shows one button per provider, in config order, with display names', async () => {
    const page = await new TestBrowser().request(`${publicUrl}/.portcullis/login?rd=%2Fx`);
    assert.equal(page.status, 200);
    const corporate = page.body.indexOf('Sign in with Corporate SSO');
    const partner = page.body.indexOf('Sign in with Partner IdP');
    assert.ok(corporate > 0 && partner > corporate, page.body);
    assert.match(page.body, /href="\/\.portcullis\/login\/local\?rd=%2Fx"/);
  });

  test('a route that accepts one provider sends the browser straight to it', async () => {
    const browser = new TestBrowser();
    const first = await browser.request(`${publicUrl}/partner/page`);
    assert.equal(first.status, 302);
    assert.equal(new URL(first.headers.location ?? '').origin, rogue.issuer);
  });

  test('a session from another provider is asked to sign in again on a provider-restricted route', async () => {
    const browser = new TestBrowser();
    const chooser = await browser.request(`${publicUrl}/.portcullis/login/local?rd=%2F`);
    const { final: loginPage } = await browser.navigate(chooser.headers.location ?? '');
    const { final } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
    assert.equal(final.status, 200);
    assert.equal((await browser.request(`${publicUrl}/partner/x`, { headers: api })).status, 401);
    const { final: partnerLanding } = await browser.navigate(`${publicUrl}/partner/x`);
    assert.equal(partnerLanding.status, 200);
    const echoed = JSON.parse((await browser.request(`${publicUrl}/partner/x`, { headers: api })).body) as {
      headers: Record<string, string>;
    };
    assert.equal(echoed.headers['x-auth-request-user'], 'mallory');
  });

  test('first login creates the directory user with default groups, synced groups and roles', async () => {
    const browser = new TestBrowser();
    const start = await browser.request(`${publicUrl}/.portcullis/login/local?rd=%2F`);
    const { final: loginPage } = await browser.navigate(start.headers.location ?? '');
    await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
    const info = JSON.parse(
      (await browser.request(`${publicUrl}/.portcullis/userinfo`, { headers: api })).body,
    ) as {
      groups: string[];
      roles: string[];
    };
    assert.deepEqual(info.groups, ['all-users', 'eng']);
    assert.deepEqual(info.roles, ['staff']);
  });

  describe('bearer tokens on /api/', () => {
    const call = (token: string | null) =>
      new TestBrowser().request(`${publicUrl}/api/items`, {
        headers: token === null ? api : { ...api, authorization: `Bearer ${token}` },
      });

    test('a valid token with the audience and the admins group reaches the app with identity', async () => {
      const token = await rogue.signAccessToken({
        sub: 'svc-1',
        aud: AUDIENCE,
        groups: ['admins'],
        email: 'svc@example.com',
      });
      const response = await call(token);
      assert.equal(response.status, 200, response.body);
      const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
      assert.equal(echoed.headers['x-auth-request-groups'], 'admins,all-users');
      assert.ok(echoed.headers['x-portcullis-assertion']);
    });

    test('a valid token without the admin role is denied (403)', async () => {
      const token = await rogue.signAccessToken({ sub: 'svc-2', aud: AUDIENCE, groups: ['eng'] });
      assert.equal((await call(token)).status, 403);
    });

    for (const [name, claims, forge] of [
      ['wrong audience', { sub: 'svc', aud: 'api://other', groups: ['admins'] }, false],
      ['expired', { sub: 'svc', aud: AUDIENCE, groups: ['admins'], iat: 1_000, exp: 2_000 }, false],
      ['forged signature', { sub: 'svc', aud: AUDIENCE, groups: ['admins'] }, true],
      ['wrong issuer', { sub: 'svc', aud: AUDIENCE, groups: ['admins'], iss: 'https://evil.example' }, false],
    ] as const) {
      test(`a token with ${name} is refused with 401 and never reaches the app`, async () => {
        const before = echo.requests.length;
        const token = await rogue.signAccessToken(claims, { forge });
        const response = await call(token);
        assert.equal(response.status, 401);
        assert.equal((JSON.parse(response.body) as { error: string }).error, 'PC_BEARER_TOKEN_REJECTED');
        assert.equal(echo.requests.length, before);
      });
    }

    test('an unsigned (alg none) token is refused', async () => {
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: rogue.issuer, sub: 'svc', aud: AUDIENCE, groups: ['admins'], exp: now + 60 })}.`;
      assert.equal((await call(token)).status, 401);
    });

    test('without a token the route behaves like any protected route (401 for an API client)', async () => {
      assert.equal((await call(null)).status, 401);
    });
  });
});
