// The plain OAuth 2.0 provider against a GitHub-shaped fake IdP, driven through the provider port
// directly: startLogin → the browser follows the authorization URL back to the redirect URI →
// finishLogin with the URL the browser landed on.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  oauth2ConfigIssues,
  oauth2ConfigWarnings,
  oauth2ProviderSchema,
  type OAuth2ProviderConfig,
} from '../../src/config/providers/oauth2-schema.js';
import { LoginErrorFromProvider, LoginResponseRejected, ProviderUnavailable } from '../../src/core/errors.js';
import type { IdentityProvider } from '../../src/providers/identity-provider.js';
import {
  createOAuth2Provider,
  externalIdentityFromProfile,
} from '../../src/providers/oauth2/oauth2-provider.js';
import type { PendingLogin } from '../../src/core/pending-login.js';
import { TestBrowser } from '../support/browser.js';
import { octocat, startFakeOAuth2Server, type FakeOAuth2Server } from '../support/fake-oauth2-server.js';
import { freePort } from '../support/free-port.js';

const CLIENT_ID = 'Iv1.portcullis-test';
const CLIENT_SECRET = 'fake-github-secret';

/** Stands in for the gateway's callback route: answers 200 so the browser stops there. */
async function startCallbackCatcher(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.portcullis/callback/github`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** LoginResponseRejected whose (log-only) detail names the reason. */
function rejectedWith(detail: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof LoginResponseRejected, `expected LoginResponseRejected, got ${String(err)}`);
    assert.match(err.message, detail);
    return true;
  };
}

function parseConfig(input: Record<string, unknown>): OAuth2ProviderConfig {
  return oauth2ProviderSchema.parse(input);
}

describe('oauth2 provider against a GitHub-shaped IdP', () => {
  let fake: FakeOAuth2Server;
  let catcher: { url: string; close(): Promise<void> };

  before(async () => {
    fake = await startFakeOAuth2Server({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    catcher = await startCallbackCatcher();
  });
  after(async () => {
    await fake.close();
    await catcher.close();
  });
  afterEach(() => {
    fake.requests.length = 0;
    fake.user = octocat;
    fake.authorizeError = undefined;
    fake.tokensRevoked = false;
  });

  function providerWith(overrides: Record<string, unknown> = {}): IdentityProvider {
    const config = parseConfig({
      id: 'github',
      type: 'oauth2',
      authorizationUrl: fake.authorizationUrl,
      tokenUrl: fake.tokenUrl,
      userinfoUrl: fake.userinfoUrl,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      scopes: ['read:user', 'user:email'],
      attributes: { groups: 'org.teams' },
      requestHeaders: {
        Accept: 'application/json',
        'User-Agent': 'portcullis-test',
        'X-Request-Trace': 'abc123',
      },
      insecureAllowHttp: true,
      ...overrides,
    });
    return createOAuth2Provider(config, { callbackUrl: catcher.url, now: () => Date.now() });
  }

  /** Starts a login and lets a browser follow the authorization URL back to the callback. */
  async function authorize(
    provider: IdentityProvider,
  ): Promise<{ pending: PendingLogin; callback: URL; authorizationUrl: URL }> {
    const { authorizationUrl, pending } = await provider.startLogin('/after-login', Date.now());
    const { final } = await new TestBrowser().navigate(authorizationUrl.href);
    assert.equal(final.status, 200, `expected to land on the callback, got ${final.status} at ${final.url}`);
    const callback = new URL(final.url);
    assert.equal(`${callback.origin}${callback.pathname}`, catcher.url);
    return { pending, callback, authorizationUrl };
  }

  const requestsTo = (endpoint: 'authorize' | 'token' | 'userinfo') =>
    fake.requests.filter((request) => request.endpoint === endpoint);

  test('maps the userinfo JSON: numeric id becomes a string, groups come from a dot path', async () => {
    const provider = providerWith();
    const { pending, callback, authorizationUrl } = await authorize(provider);
    assert.equal(authorizationUrl.searchParams.get('scope'), 'read:user user:email');
    assert.equal(authorizationUrl.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(authorizationUrl.searchParams.get('redirect_uri'), catcher.url);
    assert.equal(authorizationUrl.searchParams.get('nonce'), null, 'no nonce outside OIDC');

    const finished = await provider.finishLogin(callback, pending);
    assert.deepEqual(finished.external, {
      providerId: 'github',
      externalId: '4242',
      username: 'octocat',
      email: 'octo@example.com',
      name: 'The Octocat',
      groups: ['eng', 'ops'],
    });
    assert.equal(finished.idToken, undefined);
    assert.equal(await provider.endSessionUrl(undefined, 'http://127.0.0.1/'), undefined);
  });

  test('requestHeaders reach both the token and the userinfo request', async () => {
    const provider = providerWith();
    const { pending, callback } = await authorize(provider);
    await provider.finishLogin(callback, pending);

    const [token] = requestsTo('token');
    const [userinfo] = requestsTo('userinfo');
    assert.ok(token && userinfo);
    for (const { headers } of [token, userinfo]) {
      assert.equal(headers['user-agent'], 'portcullis-test');
      assert.equal(headers['x-request-trace'], 'abc123');
      assert.equal(headers.accept, 'application/json');
    }
    assert.match(userinfo.headers.authorization ?? '', /^Bearer gho_[0-9a-f]+$/);
    // client_secret_post, the default: credentials in the body, no Authorization header.
    assert.equal(token.headers.authorization, undefined);
    assert.equal(token.params.get('client_secret'), CLIENT_SECRET);
  });

  test('PKCE S256 is sent and the verifier checked; a wrong verifier is refused', async () => {
    const provider = providerWith();
    const { pending, callback, authorizationUrl } = await authorize(provider);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizationUrl.searchParams.get('code_challenge'));

    const tampered: PendingLogin = { ...pending, codeVerifier: `${pending.codeVerifier.slice(1)}x` };
    await assert.rejects(provider.finishLogin(callback, tampered), rejectedWith(/error=invalid_grant/));
    assert.equal(requestsTo('token')[0]?.params.get('code_verifier'), tampered.codeVerifier);

    const second = await authorize(provider);
    const finished = await provider.finishLogin(second.callback, second.pending);
    assert.equal(finished.external.externalId, '4242');
    assert.equal(requestsTo('token')[1]?.params.get('code_verifier'), second.pending.codeVerifier);
  });

  test('usePkce: false sends no challenge and no verifier', async () => {
    const provider = providerWith({ usePkce: false });
    const { pending, callback, authorizationUrl } = await authorize(provider);
    assert.equal(authorizationUrl.searchParams.get('code_challenge'), null);
    await provider.finishLogin(callback, pending);
    assert.equal(requestsTo('token')[0]?.params.get('code_verifier'), null);
  });

  test('client_secret_basic sends the credentials in the Authorization header', async () => {
    const provider = providerWith({ clientAuth: 'client_secret_basic' });
    const { pending, callback } = await authorize(provider);
    await provider.finishLogin(callback, pending);
    const [token] = requestsTo('token');
    assert.match(token?.headers.authorization ?? '', /^Basic /);
    assert.equal(token?.params.get('client_secret'), null);
  });

  test('a wrong client secret is refused', async () => {
    const provider = providerWith({ clientSecret: 'not-the-secret' });
    const { pending, callback } = await authorize(provider);
    // GitHub reports token errors with HTTP 200; the IdP's error code must still reach the log.
    await assert.rejects(
      provider.finishLogin(callback, pending),
      rejectedWith(/error=incorrect_client_credentials/),
    );
  });

  test('a callback carrying another login’s state is refused before the code is redeemed', async () => {
    const provider = providerWith();
    const first = await authorize(provider);
    const second = await authorize(provider);
    await assert.rejects(provider.finishLogin(second.callback, first.pending), rejectedWith(/"state"/));
    assert.equal(requestsTo('token').length, 0, 'the code must not be sent to the token endpoint');
  });

  test('a code is redeemed once: replaying the callback is refused', async () => {
    const provider = providerWith();
    const { pending, callback } = await authorize(provider);
    await provider.finishLogin(callback, pending);
    await assert.rejects(
      provider.finishLogin(callback, pending),
      rejectedWith(/error=bad_verification_code/),
    );
  });

  test('userinfo answering 401 refuses the login', async () => {
    fake.tokensRevoked = true;
    const provider = providerWith();
    const { pending, callback } = await authorize(provider);
    await assert.rejects(
      provider.finishLogin(callback, pending),
      rejectedWith(/refused the access token: 401/),
    );
  });

  test('a userinfo without the externalId attribute refuses the login', async () => {
    const withoutId: Partial<typeof octocat> = { ...octocat };
    delete withoutId.id;
    fake.user = withoutId;
    const provider = providerWith();
    const { pending, callback } = await authorize(provider);
    await assert.rejects(provider.finishLogin(callback, pending), rejectedWith(/userinfo has no 'id'/));
  });

  test('error=access_denied from the IdP is reported as the IdP’s refusal', async () => {
    fake.authorizeError = 'access_denied';
    const provider = providerWith();
    const { pending, callback } = await authorize(provider);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    await assert.rejects(provider.finishLogin(callback, pending), LoginErrorFromProvider);
    assert.equal(requestsTo('token').length, 0);
  });

  test('an unreachable token endpoint is ProviderUnavailable', async () => {
    const provider = providerWith({
      tokenUrl: `http://127.0.0.1:${await freePort()}/login/oauth/access_token`,
    });
    const { pending, callback } = await authorize(provider);
    await assert.rejects(provider.finishLogin(callback, pending), ProviderUnavailable);
  });
});

describe('oauth2 attribute mapping', () => {
  const config = parseConfig({
    id: 'generic',
    type: 'oauth2',
    authorizationUrl: 'https://idp.example.com/authorize',
    tokenUrl: 'https://idp.example.com/token',
    userinfoUrl: 'https://api.idp.example.com/me',
    clientId: 'x',
  });

  test('without a groups attribute the IdP said nothing about groups', () => {
    assert.equal(externalIdentityFromProfile(config, { id: 'u1', groups: ['a'] }).groups, undefined);
  });

  test('a configured groups path that is absent also means nothing was said', () => {
    const withGroups = { ...config, attributes: { ...config.attributes, groups: 'org.teams' } };
    assert.equal(externalIdentityFromProfile(withGroups, { id: 'u1' }).groups, undefined);
    assert.deepEqual(externalIdentityFromProfile(withGroups, { id: 'u1', org: { teams: [] } }).groups, []);
  });

  test('username falls back to the externalId; an unverified email is dropped', () => {
    const external = externalIdentityFromProfile(config, {
      id: 'u1',
      email: 'someone@example.com',
      verified_email: false,
    });
    assert.equal(external.username, 'u1');
    assert.equal(external.email, null);
    assert.equal(external.name, null);
  });

  test('an empty string id is no id', () => {
    assert.throws(() => externalIdentityFromProfile(config, { id: '' }), LoginResponseRejected);
  });
});

describe('oauth2 provider schema', () => {
  const base = {
    id: 'github',
    type: 'oauth2',
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    userinfoUrl: 'https://api.github.com/user',
    clientId: 'Iv1.abc',
    clientSecret: 'secret',
  };
  const messagesOf = (input: Record<string, unknown>): string[] => {
    const result = oauth2ProviderSchema.safeParse(input);
    assert.equal(result.success, false, 'expected the schema to refuse');
    return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  test('defaults', () => {
    const config = parseConfig(base);
    assert.equal(config.clientAuth, 'client_secret_post');
    assert.equal(config.usePkce, true);
    assert.deepEqual(config.scopes, []);
    assert.deepEqual(config.attributes, {
      externalId: 'id',
      username: 'login',
      fullName: 'name',
      email: 'email',
    });
    assert.deepEqual(config.requestHeaders, {});
    assert.equal(config.insecureAllowHttp, false);
    assert.deepEqual(oauth2ConfigIssues(config, 'providers.0'), []);
    assert.deepEqual(oauth2ConfigWarnings(config, 'providers.0'), []);
  });

  test('Authorization, Host, Cookie and Content-Length cannot be set through requestHeaders', () => {
    for (const name of ['Authorization', 'host', 'Cookie', 'content-length']) {
      const messages = messagesOf({ ...base, requestHeaders: { [name]: 'x' } });
      assert.deepEqual(messages, [
        `requestHeaders.${name}: '${name}' is set by the gateway itself and cannot be configured`,
      ]);
    }
  });

  test('requestHeaders refuses invalid names and values that would split the request', () => {
    assert.match(
      messagesOf({ ...base, requestHeaders: { 'Bad Name': 'x' } }).join(),
      /valid HTTP header name/,
    );
    assert.match(
      messagesOf({ ...base, requestHeaders: { 'X-A': 'a\r\nHost: evil' } }).join(),
      /control characters/,
    );
  });

  test('authorizationParams cannot override state, redirect_uri or the PKCE challenge', () => {
    for (const name of ['state', 'redirect_uri', 'code_challenge']) {
      assert.match(
        messagesOf({ ...base, authorizationParams: { [name]: 'x' } }).join(),
        /set by the gateway/,
      );
    }
    assert.deepEqual(
      parseConfig({ ...base, authorizationParams: { allow_signup: 'false' } }).authorizationParams,
      {
        allow_signup: 'false',
      },
    );
  });

  test('unknown keys and non-http URLs are refused', () => {
    assert.match(messagesOf({ ...base, issuer: 'https://github.com' }).join(), /issuer/);
    assert.match(messagesOf({ ...base, tokenUrl: 'ftp://github.com/token' }).join(), /^tokenUrl: /);
  });

  test('http URLs need insecureAllowHttp, which is then warned about', () => {
    const plain = parseConfig({
      ...base,
      tokenUrl: 'http://127.0.0.1:9999/token',
      userinfoUrl: 'http://127.0.0.1:9999/user',
    });
    assert.deepEqual(
      oauth2ConfigIssues(plain, 'providers.1').map((issue) => issue.path),
      ['providers.1.tokenUrl', 'providers.1.userinfoUrl'],
    );
    const allowed = parseConfig({
      ...base,
      tokenUrl: 'http://127.0.0.1:9999/token',
      insecureAllowHttp: true,
    });
    assert.deepEqual(oauth2ConfigIssues(allowed, 'providers.1'), []);
    assert.deepEqual(
      oauth2ConfigWarnings(allowed, 'providers.1').map((issue) => issue.path),
      ['providers.1.insecureAllowHttp'],
    );
  });

  test('a client without a secret must use PKCE and cannot use client_secret_basic', () => {
    const publicClient: Partial<typeof base> = { ...base };
    delete publicClient.clientSecret;
    assert.deepEqual(oauth2ConfigIssues(parseConfig(publicClient), 'p'), []);
    assert.deepEqual(
      oauth2ConfigIssues(
        parseConfig({ ...publicClient, usePkce: false, clientAuth: 'client_secret_basic' }),
        'p',
      ).map((issue) => issue.path),
      ['p.clientSecret', 'p.usePkce'],
    );
  });
});
