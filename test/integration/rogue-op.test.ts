// Proves the test-support rogue OP behaves as specified, using openid-client 6 itself as the relying party:
// the honest login must work, and every hostile ID token must be refused by the library the gateway uses.
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { allowPlainHttp } from '../../src/providers/oidc/oidc-flow.js';
import { freePort } from '../support/free-port.js';
import { HOSTILE_ID_TOKEN_ATTACKS, startRogueOp } from '../support/rogue-op.js';
import type { RogueOp } from '../support/rogue-op.js';
import { pingRedis, startRedisServer } from '../support/redis-server.js';
import { findBinary, requireBinary } from '../support/services.js';

const CLIENT_ID = 'portcullis-test';
// Reserved characters make sure client_secret_basic is form-encoded and decoded correctly.
const CLIENT_SECRET = 'rogue secret+/:%';
// Never fetched: the OP only puts it in a Location header that the test reads.
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

let op: RogueOp;

before(async () => {
  op = await startRogueOp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI });
});

after(async () => {
  await op.close();
});

/**
 * openid-client skips the ID token signature check for tokens from the token endpoint unless
 * enableNonRepudiationChecks is on (OIDC Core 3.1.3.7 lets TLS vouch for the issuer instead), so the
 * strict relying party the attacks are tested against turns it on; `lax` shows what happens without it.
 */
function discover(
  auth?: client.ClientAuth,
  { lax = false, secret = CLIENT_SECRET }: { lax?: boolean; secret?: string } = {},
): Promise<client.Configuration> {
  const execute = lax ? [allowPlainHttp] : [allowPlainHttp, client.enableNonRepudiationChecks];
  return client.discovery(new URL(op.issuer), CLIENT_ID, secret, auth, { execute });
}

interface AuthorizationResult {
  callbackUrl: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** Runs the front-channel half of the login: /authorize answers with a redirect to the callback. */
async function authorize(
  config: client.Configuration,
  overrides: Record<string, string | null> = {},
): Promise<AuthorizationResult> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = new URLSearchParams({
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) parameters.delete(name);
    else parameters.set(name, value);
  }
  const response = await fetch(client.buildAuthorizationUrl(config, parameters), { redirect: 'manual' });
  assert.equal(response.status, 302);
  const location = response.headers.get('location');
  assert.ok(location, 'authorize must redirect');
  return { callbackUrl: new URL(location), verifier, state, nonce };
}

function grant(
  config: client.Configuration,
  authorization: AuthorizationResult,
  verifier = authorization.verifier,
) {
  return client.authorizationCodeGrant(config, authorization.callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: authorization.state,
    expectedNonce: authorization.nonce,
    idTokenExpected: true,
  });
}

async function login(config?: client.Configuration) {
  const configuration = config ?? (await discover());
  return grant(configuration, await authorize(configuration));
}

/** Names the failure the way openid-client reports it: code, generic message and the precise cause. */
function describeRejection(error: unknown): string {
  if (error instanceof client.ResponseBodyError) return `${error.error}: ${error.error_description ?? ''}`;
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${typeof code === 'string' ? code : error.name}: ${error.message}${cause}`;
}

async function assertInvalidGrant(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof client.ResponseBodyError, describeRejection(error));
    assert.equal(error.error, 'invalid_grant');
    assert.equal(error.status, 400);
    return true;
  });
}

function withAttack(attack: Parameters<RogueOp['setAttack']>[0], body: () => Promise<void>) {
  return async () => {
    op.setAttack(attack);
    try {
      await body();
    } finally {
      op.setAttack('none');
    }
  };
}

test('discovery document advertises the code flow with S256 PKCE and RS256', async () => {
  const config = await discover();
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, op.issuer);
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(metadata.id_token_signing_alg_values_supported, ['RS256']);
  const jwks = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
  assert.equal(jwks.keys.length, 1);
  assert.deepEqual(
    {
      kid: jwks.keys[0]?.['kid'],
      alg: jwks.keys[0]?.['alg'],
      use: jwks.keys[0]?.['use'],
      d: jwks.keys[0]?.['d'],
    },
    { kid: 'rogue-1', alg: 'RS256', use: 'sig', d: undefined },
  );
});

test("attack 'none': an honest login succeeds, with PKCE verified and userinfo answering", async () => {
  const config = await discover();
  const tokens = await login(config);
  const claims = tokens.claims();
  assert.equal(claims?.sub, 'mallory');
  assert.equal(claims['email'], 'mallory@example.com');
  assert.deepEqual(claims['groups'], ['admins']);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(op.tokenRequests.at(-1)?.pkceOk, true);
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, 'mallory');
  assert.equal(userinfo.name, 'Mallory');
});

test('client_secret_basic is accepted as well as client_secret_post', async () => {
  const tokens = await login(await discover(client.ClientSecretBasic(CLIENT_SECRET)));
  assert.equal(tokens.claims()?.sub, 'mallory');
  const record = op.tokenRequests.at(-1);
  assert.match(record?.authorization ?? '', /^Basic /);
  assert.equal(record?.body.get('client_secret'), null);
});

test('setClaims changes the subject of the next tokens', async () => {
  op.setClaims({ sub: 'alice', email: 'alice@example.com', groups: ['staff'] });
  try {
    const tokens = await login();
    assert.equal(tokens.claims()?.sub, 'alice');
    assert.deepEqual(tokens.claims()?.['groups'], ['staff']);
  } finally {
    op.setClaims({ sub: 'mallory', email: 'mallory@example.com', name: 'Mallory', groups: ['admins'] });
  }
});

// Collected so the run prints which check in openid-client caught each attack.
const rejections = new Map<string, string>();

for (const attack of HOSTILE_ID_TOKEN_ATTACKS) {
  test(
    `attack '${attack}': openid-client refuses the ID token`,
    withAttack(attack, async () => {
      // The token request itself is honest (PKCE passes); only the ID token is hostile.
      await assert.rejects(login(), (error: unknown) => {
        assert.ok(!(error instanceof client.ResponseBodyError), 'the OP must not be the one refusing');
        rejections.set(attack, describeRejection(error));
        return true;
      });
      assert.equal(op.tokenRequests.at(-1)?.pkceOk, true);
    }),
  );
}

test('report: how openid-client refused each attack', (t: TestContext) => {
  for (const [attack, reason] of rejections) t.diagnostic(`${attack} -> ${reason}`);
  assert.equal(rejections.size, HOSTILE_ID_TOKEN_ATTACKS.length);
});

test('characterization: without enableNonRepudiationChecks openid-client accepts forged signatures', async () => {
  // This proves the signature attacks are real (they only fail on the signature) and is a reminder
  // that the gateway must enable the check. If openid-client ever verifies by default, this fails.
  const config = await discover(undefined, { lax: true });
  for (const attack of ['bad-signature', 'unknown-kid'] as const) {
    await withAttack(attack, async () => assert.equal((await login(config)).claims()?.sub, 'mallory'))();
  }
  await withAttack('tampered-payload', async () =>
    assert.equal((await login(config)).claims()?.sub, 'admin'),
  )();
});

test('a wrong code_verifier gives invalid_grant and burns the code', async () => {
  const config = await discover();
  const authorization = await authorize(config);
  await assertInvalidGrant(grant(config, authorization, client.randomPKCECodeVerifier()));
  assert.equal(op.tokenRequests.at(-1)?.pkceOk, false);
  await assertInvalidGrant(grant(config, authorization));
});

test('a reused authorization code gives invalid_grant', async () => {
  const config = await discover();
  const authorization = await authorize(config);
  await grant(config, authorization);
  await assertInvalidGrant(grant(config, authorization));
});

test('a missing code_challenge is answered with error=invalid_request and the state', async () => {
  const config = await discover();
  const { callbackUrl, state } = await authorize(config, {
    code_challenge: null,
    code_challenge_method: null,
  });
  assert.equal(callbackUrl.searchParams.get('error'), 'invalid_request');
  assert.equal(callbackUrl.searchParams.get('state'), state);
  assert.equal(callbackUrl.searchParams.get('code'), null);
});

test('an unregistered redirect_uri is refused without redirecting', async () => {
  const config = await discover();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:9/elsewhere',
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null);
});

test('a wrong client secret gives 401 invalid_client', async () => {
  const config = await discover(undefined, { secret: 'not-the-secret' });
  const authorization = await authorize(config);
  await assert.rejects(grant(config, authorization), (error: unknown) => {
    assert.ok(error instanceof client.ResponseBodyError, describeRejection(error));
    assert.equal(error.error, 'invalid_client');
    assert.equal(error.status, 401);
    return true;
  });
});

test('token responses are not cacheable and userinfo refuses unknown tokens', async () => {
  const config = await discover();
  const authorization = await authorize(config);
  const response = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: authorization.callbackUrl.searchParams.get('code') ?? '',
      code_verifier: authorization.verifier,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  const unknown = await fetch(`${op.issuer}/userinfo`, { headers: { authorization: 'Bearer forged' } });
  assert.equal(unknown.status, 401);
});

test('freePort returns a bindable port on 127.0.0.1', async () => {
  const port = await freePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
});

test('findBinary and requireBinary: skip locally, fail under CI=true', (t: TestContext) => {
  assert.ok(findBinary('sh'));
  assert.equal(findBinary('portcullis-no-such-binary'), null);
  const previous = process.env['CI'];
  t.after(() => {
    if (previous === undefined) delete process.env['CI'];
    else process.env['CI'] = previous;
  });
  delete process.env['CI'];
  const missing = requireBinary('portcullis-no-such-binary', 'portcullis-pkg');
  assert.ok('skip' in missing && missing.skip.includes("'portcullis-pkg'"));
  process.env['CI'] = 'true';
  assert.throws(() => requireBinary('portcullis-no-such-binary', 'portcullis-pkg'), /portcullis-pkg/);
});

const redisBinary = requireBinary('redis-server', 'redis-server');
test(
  'startRedisServer answers PING and close() stops it',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  async () => {
    const redis = await startRedisServer();
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.equal(await pingRedis(redis.port), true);
    await redis.close();
    assert.equal(await pingRedis(redis.port), false);
    await redis.close(); // idempotent
  },
);
