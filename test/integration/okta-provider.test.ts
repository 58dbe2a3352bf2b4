// The Okta preset: how the OIDC config is derived, a full login against dev/local-idp standing in
// for Okta (through insecureIssuerOverride), and the access token audience check against a local JWKS.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import {
  oktaConfigIssues,
  oktaConfigWarnings,
  oktaProviderSchema,
  type OktaProviderConfig,
} from '../../src/config/providers/okta-schema.js';
import { oidcProviderSchema } from '../../src/config/provider-schemas.js';
import { LoginResponseRejected, ProviderUnavailable } from '../../src/core/errors.js';
import {
  createAccessTokenVerifier,
  createOktaProvider,
  oktaIssuer,
  oktaToOidc,
} from '../../src/providers/okta/okta-provider.js';
import { startLocalIdp, type LocalIdp } from '../../dev/local-idp.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { newSigningKey, serveJwks, type JwksServer } from '../support/jwks.js';

const base = {
  id: 'okta',
  type: 'okta',
  domain: 'acme.okta.com',
  clientId: '0oa1client',
  clientSecret: 's3cret',
};

function parseOkta(input: Record<string, unknown>): OktaProviderConfig {
  return oktaProviderSchema.parse({ ...base, ...input });
}

describe('okta → oidc derivation', () => {
  test('no serverId, or an empty one, means the org authorization server', () => {
    assert.equal(oktaToOidc(parseOkta({})).issuer, 'https://acme.okta.com');
    assert.equal(oktaToOidc(parseOkta({ serverId: '' })).issuer, 'https://acme.okta.com');
  });

  test("a custom authorization server, 'default' included, sits under /oauth2/", () => {
    assert.equal(
      oktaToOidc(parseOkta({ serverId: 'default' })).issuer,
      'https://acme.okta.com/oauth2/default',
    );
    assert.equal(
      oktaToOidc(parseOkta({ serverId: 'aus1a2B3c4D5e6F7g8h9' })).issuer,
      'https://acme.okta.com/oauth2/aus1a2B3c4D5e6F7g8h9',
      'server ids are case-sensitive and kept as written',
    );
  });

  test('the domain is normalised: case, trailing slash and dot', () => {
    for (const domain of ['ACME.Okta.com', 'acme.okta.com/', ' acme.okta.com./ ', 'Acme.OKTA.com//']) {
      assert.equal(parseOkta({ domain }).domain, 'acme.okta.com', domain);
      assert.equal(
        oktaIssuer({ domain, serverId: 'default' }),
        'https://acme.okta.com/oauth2/default',
        domain,
      );
    }
  });

  test('a domain with a scheme or a path, or a malformed serverId, is refused', () => {
    for (const input of [
      { domain: 'https://acme.okta.com' },
      { domain: 'acme.okta.com/oauth2/default' },
      { domain: '' },
      { serverId: 'default/' },
      { serverId: '../admin' },
    ]) {
      assert.equal(oktaProviderSchema.safeParse({ ...base, ...input }).success, false, JSON.stringify(input));
    }
  });

  test('the derived config is a valid oidc config with the Okta defaults', () => {
    const derived = oktaToOidc(parseOkta({ serverId: 'default', displayName: 'Acme SSO' }));
    assert.deepEqual(oidcProviderSchema.parse(derived), derived);
    assert.equal(derived.type, 'oidc');
    assert.equal(derived.displayName, 'Acme SSO');
    assert.equal(derived.clientAuth, 'client_secret_basic');
    assert.deepEqual(derived.scopes, ['openid', 'profile', 'email']);
    assert.deepEqual(derived.claims, {
      username: 'preferred_username',
      email: 'email',
      name: 'name',
      groups: 'groups',
    });
    assert.equal(derived.idTokenSigningAlg, 'RS256');
    assert.equal(derived.insecureAllowHttpIssuer, false);
    assert.equal('audience' in derived, false);
  });

  test('insecureIssuerOverride replaces the issuer and allows http only for an http override', () => {
    const local = oktaToOidc(
      parseOkta({ serverId: 'default', insecureIssuerOverride: 'http://127.0.0.1:9000' }),
    );
    assert.equal(local.issuer, 'http://127.0.0.1:9000');
    assert.equal(local.insecureAllowHttpIssuer, true);
    const tls = oktaToOidc(
      parseOkta({ insecureIssuerOverride: 'https://okta.test.internal/oauth2/default' }),
    );
    assert.equal(tls.insecureAllowHttpIssuer, false);
  });

  test('cross-checks: credentials for the auth method; audience needs a custom server; the override is warned about', () => {
    assert.deepEqual(
      oktaConfigIssues(parseOkta({ serverId: 'default', audience: 'api://default' }), 'providers.0'),
      [],
    );
    const paths = (config: OktaProviderConfig) =>
      oktaConfigIssues(config, 'providers.0').map((issue) => issue.path);
    assert.deepEqual(paths(parseOkta({ audience: 'api://default' })), ['providers.0.audience']);
    assert.deepEqual(paths(parseOkta({ clientAuth: 'private_key_jwt' })), ['providers.0.privateKeyFile']);
    const withoutSecret: Partial<typeof base> = { ...base };
    delete withoutSecret.clientSecret;
    assert.deepEqual(paths(oktaProviderSchema.parse(withoutSecret)), ['providers.0.clientSecret']);
    assert.deepEqual(
      oktaConfigWarnings(parseOkta({ insecureIssuerOverride: 'http://127.0.0.1:9000' }), 'providers.0').map(
        (w) => w.path,
      ),
      ['providers.0.insecureIssuerOverride'],
    );
  });
});

describe('okta provider against a local OpenID Provider standing in for Okta', () => {
  const CLIENT_ID = '0oa-local-okta';
  const CLIENT_SECRET = 'local-okta-secret';
  let idp: LocalIdp;
  let catcher: Server;
  let callbackUrl: string;

  before(async () => {
    // Stands in for the gateway's callback route: answers 200 so the browser stops there.
    catcher = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}/.portcullis/callback/okta`;
    idp = await startLocalIdp({
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [callbackUrl] }],
    });
  });
  after(async () => {
    await idp.close();
    await new Promise<void>((resolve) => catcher.close(() => resolve()));
  });

  function oktaConfig(input: Record<string, unknown> = {}): OktaProviderConfig {
    return parseOkta({
      serverId: 'default',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      scopes: ['openid', 'profile', 'email', 'groups'],
      insecureIssuerOverride: idp.issuer,
      ...input,
    });
  }

  async function signInAsAlice(config: OktaProviderConfig) {
    const provider = createOktaProvider(config, { callbackUrl, now: () => Date.now() });
    const { authorizationUrl, pending } = await provider.startLogin('/', Date.now());
    assert.equal(authorizationUrl.origin, idp.issuer);
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(authorizationUrl.href);
    const { final } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
    assert.equal(final.status, 200, `expected to land on the callback, got ${final.status} at ${final.url}`);
    return provider.finishLogin(new URL(final.url), pending);
  }

  test('alice signs in; username comes from preferred_username and groups from the groups claim', async () => {
    const finished = await signInAsAlice(oktaConfig());
    assert.deepEqual(finished.external, {
      providerId: 'okta',
      externalId: 'alice',
      username: 'alice',
      email: 'alice@example.com',
      name: 'Alice Example',
      groups: ['admins', 'eng'],
    });
    assert.ok(finished.idToken);
  });

  test('with an audience configured, an opaque access token refuses the login', async () => {
    // dev/local-idp issues opaque access tokens, as Okta's org authorization server does.
    await assert.rejects(signInAsAlice(oktaConfig({ audience: 'api://default' })), (err: unknown) => {
      assert.ok(err instanceof LoginResponseRejected, String(err));
      assert.match(err.message, /access token refused/);
      return true;
    });
  });
});

describe('access token audience check', () => {
  const AUDIENCE = 'api://default';
  let jwks: JwksServer;
  let issuer: string;
  let jwksUri: string;
  const kid = 'okta-key-1';
  const signing = newSigningKey('RS256', kid);
  /** Another key under the same kid: its signatures must not verify. */
  const stranger = newSigningKey('RS256', kid);
  const signingKey = signing.privateKey;
  const strangerKey = stranger.privateKey;

  before(async () => {
    jwks = await serveJwks([signing.publicJwk], '/oauth2/default/v1/keys');
    issuer = `${jwks.origin}/oauth2/default`;
    jwksUri = jwks.url;
  });
  after(() => jwks.close());

  function accessToken(
    claims: Record<string, unknown> = {},
    options: { key?: KeyObject; kid?: string; expiresIn?: string } = {},
  ): Promise<string> {
    // iss and aud go in the payload so `claims` can override them.
    return new SignJWT({
      iss: issuer,
      aud: AUDIENCE,
      scp: ['openid'],
      cid: '0oa1client',
      uid: '00u1alice',
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? kid })
      .setSubject('alice@example.com')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '1h')
      .sign(options.key ?? signingKey);
  }

  const verifier = () => createAccessTokenVerifier({ audience: AUDIENCE, now: () => Date.now() });
  const server = () => ({ issuer, jwks_uri: jwksUri });

  test('a token signed by the issuer for the audience passes', async () => {
    await verifier()(await accessToken(), server());
    await verifier()(await accessToken({ aud: ['api://other', AUDIENCE] }), server());
  });

  for (const [name, make] of [
    ['another audience', () => accessToken({ aud: 'api://other' })],
    ['another issuer', () => accessToken({ iss: 'https://evil.okta.com/oauth2/default' })],
    ['a signature by another key under the same kid', () => accessToken({}, { key: strangerKey })],
    ['a kid the issuer does not publish', () => accessToken({}, { key: strangerKey, kid: 'unknown' })],
    ['an expired token', () => accessToken({}, { expiresIn: '-5m' })],
    ['an opaque token', () => Promise.resolve('opaque-access-token-value')],
    [
      'an unsigned token',
      () =>
        Promise.resolve(
          `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'x', aud: AUDIENCE })).toString('base64url')}.`,
        ),
    ],
  ] as const) {
    test(`${name} is refused`, async () => {
      await assert.rejects(verifier()(await make(), server()), LoginResponseRejected);
    });
  }

  test('a token without exp is refused', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .sign(signingKey);
    await assert.rejects(verifier()(token, server()), LoginResponseRejected);
  });

  test('an HS256 token is refused even if it would verify with some key', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    await assert.rejects(verifier()(token, server()), LoginResponseRejected);
  });

  test('an issuer without jwks_uri cannot have its access tokens verified', async () => {
    await assert.rejects(verifier()(await accessToken(), { issuer }), LoginResponseRejected);
  });

  test('unreachable or broken key endpoints are ProviderUnavailable, not a refusal', async () => {
    const token = await accessToken();
    const down = `http://127.0.0.1:${await freePort()}/oauth2/default/v1/keys`;
    await assert.rejects(verifier()(token, { issuer, jwks_uri: down }), ProviderUnavailable);
    await assert.rejects(
      verifier()(token, { issuer, jwks_uri: `${issuer}/v1/missing` }),
      ProviderUnavailable,
    );
  });
});
