// The Entra ID provider against a local Entra stand-in (real oidc-provider instances with Entra's issuer
// shape and claims) and a fake Microsoft Graph. Logins are driven through the provider object itself:
// startLogin → a scripted browser through the sign-in form → the captured callback → finishLogin.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  entraConfigWarnings,
  entraProviderSchema,
  entraUrlsFor,
  type EntraProviderConfig,
} from '../../src/config/providers/entra-schema.js';
import { GatewayError } from '../../src/core/errors.js';
import type { ExternalIdentity } from '../../src/core/identity.js';
import { createEntraProvider, type EntraProvider } from '../../src/providers/entra/entra-provider.js';
import type { PendingLogin } from '../../src/core/pending-login.js';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startEntraIdp, type EntraIdp, type EntraIdpUser } from '../support/entra-idp.js';
import { startFakeGraph, type FakeGraph } from '../support/fake-graph.js';
import { closeServer, listen } from '../support/http-server.js';
import { newSigningKey } from '../support/jwks.js';

const TENANT_A = '3f8a2b1c-5d4e-4f6a-8b7c-9d0e1f2a3b4c';
const TENANT_B = '7c6b5a49-3827-4165-a0b9-c8d7e6f5a4b3';
const CLIENT_ID = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
const CLIENT_SECRET = 'entra-test-secret';
const CERT_CLIENT_ID = '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a';

const GROUP_ENG = '6f1e1a52-8d3c-4c1e-9a59-3b1f0c2d4e01';
const GROUP_ADMINS = '6f1e1a52-8d3c-4c1e-9a59-3b1f0c2d4e02';
const GROUP_GONE = '6f1e1a52-8d3c-4c1e-9a59-3b1f0c2d4e09'; // listed in the token, absent from the directory
const OVERAGE_GROUPS = [1, 2, 3, 4, 5].map((n) => `0a0a0a0a-0000-4000-8000-00000000000${n}`);

const OID_ALICE = 'a11ce000-0000-4000-8000-000000000001';
const OID_OLGA = '01ca0000-0000-4000-8000-000000000002';
const OID_NORA = '0a0a0000-0000-4000-8000-000000000003';
const OID_MALLORY = 'ba0d0000-0000-4000-8000-000000000004';

/** A base64url SHA-1 thumbprint, the form Entra's x5t takes. */
const CERT_THUMBPRINT = createHash('sha1').update('test certificate').digest('base64url');
const certificate = newSigningKey('RS256', CERT_THUMBPRINT);
const certPublicJwk = certificate.publicJwk;

let trapRequests: string[] = [];

function users(trapUrl: string): EntraIdpUser[] {
  const user = (username: string, claims: Record<string, unknown>): EntraIdpUser => ({
    username,
    password: username,
    claims: {
      ver: '2.0',
      preferred_username: `${username}@contoso.onmicrosoft.com`,
      name: username,
      ...claims,
    },
  });
  return [
    user('alice', {
      sub: 'pairwise-alice',
      oid: OID_ALICE,
      tid: TENANT_A,
      email: 'alice@contoso.com',
      groups: [GROUP_ENG, GROUP_ADMINS, GROUP_GONE],
    }),
    // Past the groups limit: no `groups`, the overage claim instead. Its source points at a trap the
    // provider must never call (the app token goes to graphBaseUrl only).
    user('olga', {
      sub: 'pairwise-olga',
      oid: OID_OLGA,
      tid: TENANT_A,
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: `${trapUrl}/v1.0/users/${OID_OLGA}/getMemberObjects` } },
    }),
    user('hank', { sub: 'pairwise-hank', oid: OID_OLGA, tid: TENANT_A, hasgroups: true }),
    user('nora', { sub: 'pairwise-nora', oid: OID_NORA, tid: TENANT_A }),
    // Signs in at tenant A's issuer but claims tenant B.
    user('mallory', { sub: 'pairwise-mallory', oid: OID_MALLORY, tid: TENANT_B, groups: [GROUP_ENG] }),
  ];
}

interface Harness {
  provider: EntraProvider;
  warnings: Array<{ obj: object; msg: string }>;
}

/** The URL a fetch is for, whatever form it was given in. */
function urlOf(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === 'string') return input;
  return input instanceof URL ? input.href : input.url;
}

describe('Entra ID provider', () => {
  let idp: EntraIdp;
  let graph: FakeGraph;
  let callbackServer: Server;
  let callbackUrl: string;
  let trap: Server;
  let trapUrl: string;
  let clock = Date.now();

  before(async () => {
    callbackServer = createServer((_req, res) => res.end('signed in'));
    callbackUrl = `http://127.0.0.1:${await listen(callbackServer)}/callback`;
    trap = createServer((req, res) => {
      trapRequests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{}');
    });
    trapUrl = `http://127.0.0.1:${await listen(trap)}`;
    graph = await startFakeGraph({
      clients: [
        { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
        { clientId: CERT_CLIENT_ID, publicJwk: certPublicJwk },
      ],
      groups: {
        [GROUP_ENG]: 'Engineering',
        [GROUP_ADMINS]: 'Portcullis Admins',
        ...Object.fromEntries(OVERAGE_GROUPS.map((id, index) => [id, `Overage ${index + 1}`])),
      },
      memberships: { [OID_OLGA]: OVERAGE_GROUPS },
    });
    idp = await startEntraIdp({
      tenants: [TENANT_A, TENANT_B],
      domains: { 'contoso.onmicrosoft.com': TENANT_A },
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [callbackUrl],
          token_endpoint_auth_method: 'client_secret_post',
        },
        {
          client_id: CERT_CLIENT_ID,
          redirect_uris: [callbackUrl],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [certPublicJwk] },
        },
      ],
      users: users(trapUrl),
      appTokenEndpoint: graph.handleTokenRequest,
    });
  });

  after(async () => {
    await idp.close();
    await graph.close();
    await closeServer(callbackServer);
    await closeServer(trap);
  });

  beforeEach(() => {
    clock = Date.now();
    trapRequests = [];
    graph.clearRequests();
    graph.setPageSize(100);
    graph.throttleNext(0);
    graph.failGraphWith(null);
    graph.failTokensWith(null);
    graph.setNextLinkOrigin(null);
  });

  function configFor(overrides: Record<string, unknown> = {}): EntraProviderConfig {
    return entraProviderSchema.parse({
      id: 'entra',
      type: 'entra',
      tenantId: TENANT_A,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      authorityHost: idp.authorityHost,
      graphBaseUrl: graph.url,
      insecureAllowHttp: true,
      ...overrides,
    });
  }

  function harness(overrides: Record<string, unknown> = {}, fetchOverride?: typeof fetch): Harness {
    const warnings: Array<{ obj: object; msg: string }> = [];
    const options = {
      callbackUrl,
      now: () => clock,
      log: { warn: (obj: object, msg: string) => warnings.push({ obj, msg }) },
    };
    const provider = createEntraProvider(
      configFor(overrides),
      fetchOverride === undefined ? options : { ...options, fetch: fetchOverride },
    );
    return { provider, warnings };
  }

  /** Runs a whole sign-in; `tamper` may alter the pending login before the callback is checked. */
  async function signIn(
    provider: EntraProvider,
    username: string,
    tamper: (pending: PendingLogin) => PendingLogin = (pending) => pending,
  ): Promise<ExternalIdentity> {
    const { authorizationUrl, pending } = await provider.startLogin('/after', clock);
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(authorizationUrl.href);
    const { final } = await loginAtLocalIdp(browser, loginPage, username, username);
    assert.ok(
      final.url.startsWith(`${callbackUrl}?`),
      `expected the callback, got ${final.url}: ${final.body}`,
    );
    const { external } = await provider.finishLogin(new URL(final.url), tamper(pending));
    return external;
  }

  async function refusal(login: Promise<unknown>): Promise<GatewayError> {
    try {
      await login;
    } catch (error) {
      assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
      return error;
    }
    assert.fail('the login was accepted');
  }

  describe('single tenant', () => {
    test('group object IDs become display names through Graph, and are cached', async () => {
      const { provider } = harness();
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.providerId, 'entra');
      assert.equal(alice.externalId, OID_ALICE, 'oid, not the per-app pairwise sub');
      assert.equal(alice.username, 'alice@contoso.onmicrosoft.com');
      assert.equal(alice.email, 'alice@contoso.com');
      // An ID Graph does not return keeps the ID as its name.
      assert.deepEqual(alice.groups, ['Engineering', 'Portcullis Admins', GROUP_GONE]);

      const [tokenRequest] = graph.requests.filter((request) => request.kind === 'token');
      assert.equal(tokenRequest?.tenant, TENANT_A);
      assert.deepEqual(tokenRequest.body, {
        grant_type: 'client_credentials',
        scope: `${graph.url}/.default`,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      });
      const [lookup] = graph.requests.filter((request) => request.kind === 'getByIds');
      assert.deepEqual(lookup?.body, { ids: [GROUP_ENG, GROUP_ADMINS, GROUP_GONE], types: ['group'] });
      assert.equal(lookup.tenant, TENANT_A);

      const again = await signIn(provider, 'alice');
      assert.deepEqual(again.groups, alice.groups);
      assert.equal(graph.count('getByIds'), 1, 'the second login is answered from the name cache');
      assert.equal(graph.count('token'), 1, 'and the app token is reused');

      clock += 3_600_000 + 1_000; // past the default 1h name TTL (and the token's renewal time)
      await signIn(provider, 'alice');
      assert.equal(graph.count('getByIds'), 2);
      assert.equal(graph.count('token'), 2);
      assert.equal(provider.graphFailures, 0);
    });

    test('a groups-overage user gets groups from transitiveMemberOf, over 3 pages', async () => {
      graph.setPageSize(2);
      const { provider } = harness();
      const olga = await signIn(provider, 'olga');
      assert.deepEqual(olga.groups, ['Overage 1', 'Overage 2', 'Overage 3', 'Overage 4', 'Overage 5']);
      const pages = graph.requests.filter((request) => request.kind === 'transitiveMemberOf');
      assert.equal(pages.length, 3);
      assert.ok(
        pages.every((page) => page.status === 200 && page.headers['consistencylevel'] === 'eventual'),
      );
      assert.match(pages[0]?.url ?? '', /\$select=id,displayName/);
      assert.match(pages[2]?.url ?? '', /\$skiptoken=/);
      assert.equal(graph.count('getByIds'), 0, 'names came with the memberships');
      assert.deepEqual(trapRequests, [], "the token's _claim_sources endpoint is never called");
    });

    test('hasgroups: true is an overage too', async () => {
      const { provider } = harness({ resolveGroupNames: false });
      const hank = await signIn(provider, 'hank');
      assert.deepEqual(hank.groups, OVERAGE_GROUPS, 'object IDs when names are not resolved');
    });

    test('429 with Retry-After: waits as told, then succeeds', async () => {
      graph.throttleNext(1, { retryAfterSeconds: 1 });
      const { provider } = harness();
      const started = Date.now();
      const alice = await signIn(provider, 'alice');
      const lookups = graph.requests.filter((request) => request.kind === 'getByIds');
      assert.deepEqual(
        lookups.map((request) => request.status),
        [429, 200],
      );
      assert.ok(Date.now() - started >= 950, 'the retry came after Retry-After');
      assert.deepEqual(alice.groups, ['Engineering', 'Portcullis Admins', GROUP_GONE]);
      assert.equal(provider.graphFailures, 0);
    });

    test('throttled past the retry budget: gives up without waiting, the login keeps its groups', async () => {
      graph.throttleNext(1, { retryAfterSeconds: 60 });
      const { provider, warnings } = harness();
      const started = Date.now();
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.groups, undefined);
      assert.ok(Date.now() - started < 5_000, 'a 60 s Retry-After is not waited for');
      assert.equal(provider.graphFailures, 1);
      assert.deepEqual(warnings[0]?.obj, {
        provider: 'entra',
        tenantId: TENANT_A,
        step: 'getByIds',
        status: 429,
        graphError: 'TooManyRequests',
        reason: 'getByIds: HTTP 429',
      });
    });

    test('Graph down: the login succeeds with groups undefined, logged without tokens and counted', async () => {
      graph.failGraphWith(500);
      const { provider, warnings } = harness();
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.externalId, OID_ALICE);
      assert.equal(alice.groups, undefined, 'undefined: the directory keeps the user’s memberships');
      assert.equal(provider.graphFailures, 1);
      assert.equal(warnings.length, 1);
      const logged = JSON.stringify(warnings);
      assert.match(logged, /"status":500/);
      assert.ok(graph.issuedTokens.length > 0);
      for (const token of graph.issuedTokens) assert.ok(!logged.includes(token), 'no app token in the log');
      assert.ok(!logged.includes(CLIENT_SECRET));

      await signIn(provider, 'alice');
      assert.equal(provider.graphFailures, 2);
    });

    test('no app token (token endpoint failing): groups undefined, step token logged', async () => {
      graph.failTokensWith(503);
      const { provider, warnings } = harness();
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.groups, undefined);
      assert.equal(provider.graphFailures, 1);
      assert.equal((warnings[0]?.obj as { step?: string }).step, 'token');
      assert.equal(graph.count('getByIds'), 0);
    });

    test('an @odata.nextLink to another origin is not followed: the token stays home', async () => {
      graph.setPageSize(2);
      graph.setNextLinkOrigin(trapUrl);
      const { provider, warnings } = harness();
      const olga = await signIn(provider, 'olga');
      assert.equal(olga.groups, undefined);
      assert.equal(provider.graphFailures, 1);
      assert.deepEqual(trapRequests, []);
      assert.match(String((warnings[0]?.obj as { reason?: string }).reason), /nextLink leaves/);
    });

    test('an app token revoked early is renewed once', async () => {
      const { provider } = harness({ groupNameCacheTtl: '1m' });
      await signIn(provider, 'alice');
      graph.revokeTokens();
      clock += 2 * 60_000; // names expired, the cached token (1 h) not
      const alice = await signIn(provider, 'alice');
      assert.deepEqual(alice.groups, ['Engineering', 'Portcullis Admins', GROUP_GONE]);
      assert.deepEqual(
        graph.requests.filter((request) => request.kind !== 'token').map((request) => request.status),
        [200, 401, 200],
      );
      assert.equal(graph.count('token'), 2);
      assert.equal(provider.graphFailures, 0);
    });

    test('no groups claim and no overage: groups undefined, Graph never asked', async () => {
      const { provider } = harness();
      const nora = await signIn(provider, 'nora');
      assert.equal(nora.groups, undefined);
      assert.equal(nora.email, null, 'no email claim: no email (preferred_username is not one)');
      assert.equal(graph.requests.length, 0);
    });

    test('resolveGroupNames: false keeps the object IDs and never calls Graph', async () => {
      const { provider } = harness({ resolveGroupNames: false });
      const alice = await signIn(provider, 'alice');
      assert.deepEqual(alice.groups, [GROUP_ENG, GROUP_ADMINS, GROUP_GONE]);
      assert.equal(graph.requests.length, 0);
    });

    test('a verified domain as tenantId: discovery names the GUID issuer, which the tokens must carry', async () => {
      const { provider } = harness({ tenantId: 'contoso.onmicrosoft.com' });
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.externalId, OID_ALICE);
      assert.ok(
        idp.discoveryRequests.includes('/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration'),
      );
      const refused = await refusal(signIn(provider, 'mallory'));
      assert.equal(refused.code, 'PC_LOGIN_REJECTED', 'tid B in a token of tenant A');
    });

    test('private_key_jwt: assertions are addressed to the token endpoint and name the certificate by x5t', async () => {
      const { provider } = harness({
        clientId: CERT_CLIENT_ID,
        clientSecret: undefined,
        clientAuth: 'private_key_jwt',
        privateKey: certificate.privatePem(),
        privateKeyId: CERT_THUMBPRINT,
      });
      const alice = await signIn(provider, 'alice');
      assert.deepEqual(alice.groups, ['Engineering', 'Portcullis Admins', GROUP_GONE]);
      const [tokenRequest] = graph.requests.filter((request) => request.kind === 'token');
      assert.equal(tokenRequest?.status, 200, 'the fake checked aud = its token endpoint');
      assert.equal(tokenRequest.assertionHeader?.['x5t'], CERT_THUMBPRINT);
      assert.equal(tokenRequest.assertionHeader['alg'], 'RS256');
    });

    test('the end-session URL is the tenant’s', async () => {
      const { provider } = harness();
      const url = await provider.endSessionUrl('an-id-token', 'https://apps.example.com/bye');
      assert.ok(url?.href.startsWith(`${idp.issuerOf(TENANT_A)}/`));
      assert.equal(url?.searchParams.get('id_token_hint'), 'an-id-token');
    });
  });

  describe('multi-tenant (organizations)', () => {
    test('accepts a token whose iss is its own tid’s issuer; the user is keyed on tid and oid', async () => {
      const { provider } = harness({ tenantId: 'organizations' });
      const alice = await signIn(provider, 'alice');
      assert.equal(alice.externalId, `${TENANT_A}:${OID_ALICE}`);
      assert.deepEqual(alice.groups, ['Engineering', 'Portcullis Admins', GROUP_GONE]);
      const [tokenRequest] = graph.requests.filter((request) => request.kind === 'token');
      assert.equal(tokenRequest?.tenant, TENANT_A, 'the app token comes from the user’s tenant');
    });

    test('refuses a token whose iss names another tenant than its tid', async () => {
      const { provider } = harness({ tenantId: 'organizations' });
      const refused = await refusal(signIn(provider, 'mallory'));
      assert.equal(refused.code, 'PC_LOGIN_REJECTED');
      assert.match(refused.message, new RegExp(`not the issuer of its tid ${TENANT_B}`));
      assert.equal(graph.requests.length, 0);
    });

    test('refuses a tid outside allowedTenants, accepts one inside', async () => {
      const outside = harness({ tenantId: 'organizations', allowedTenants: [TENANT_B] });
      const refused = await refusal(signIn(outside.provider, 'alice'));
      assert.equal(refused.code, 'PC_ACCESS_DENIED');
      assert.match(refused.message, /not in allowedTenants/);

      const inside = harness({ tenantId: 'organizations', allowedTenants: [TENANT_A.toUpperCase()] });
      const alice = await signIn(inside.provider, 'alice');
      assert.equal(alice.externalId, `${TENANT_A}:${OID_ALICE}`);
    });

    test('an ID token edited to name another tenant fails its signature check', async () => {
      // Rewrites the token response in transit: tid and iss both switched to tenant B, signature kept.
      const tampering: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!urlOf(input).endsWith('/token') || init?.method !== 'POST') return response;
        const body = (await response.json()) as Record<string, unknown>;
        if (typeof body['id_token'] !== 'string') return Response.json(body, { status: response.status });
        const [header, payload, signature] = body['id_token'].split('.');
        const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
          string,
          unknown
        >;
        claims['tid'] = TENANT_B;
        claims['iss'] = idp.issuerOf(TENANT_B);
        body['id_token'] = [
          header,
          Buffer.from(JSON.stringify(claims)).toString('base64url'),
          signature,
        ].join('.');
        return new Response(JSON.stringify(body), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      };
      const { provider } = harness({ tenantId: 'organizations' }, tampering);
      const refused = await refusal(signIn(provider, 'alice'));
      assert.equal(refused.code, 'PC_LOGIN_REJECTED');
      assert.match(refused.message, /signature verification failed/);
    });

    test('refuses a callback whose state is not the pending login’s', async () => {
      const { provider } = harness({ tenantId: 'organizations' });
      const refused = await refusal(
        signIn(provider, 'alice', (pending) => ({ ...pending, state: 'another' })),
      );
      assert.equal(refused.code, 'PC_LOGIN_REJECTED');
    });

    test('refuses an ID token whose nonce is not the pending login’s', async () => {
      const { provider } = harness({ tenantId: 'organizations' });
      const refused = await refusal(
        signIn(provider, 'alice', (pending) => ({ ...pending, nonce: 'another' })),
      );
      assert.equal(refused.code, 'PC_LOGIN_REJECTED');
      assert.match(refused.message, /nonce/);
    });

    test('a discovery document whose issuer is not the template makes the provider unavailable', async () => {
      // tenant B's own document answers for "organizations": its issuer is not the {tenantid} template.
      const redirect: typeof fetch = (input, init) =>
        fetch(urlOf(input).replace('/organizations/', `/${TENANT_B}/`), init);
      const { provider } = harness({ tenantId: 'organizations' }, redirect);
      const refused = await refusal(provider.startLogin('/after', clock));
      assert.equal(refused.code, 'PC_PROVIDER_UNAVAILABLE');
      assert.match(refused.message, /not the multi-tenant template/);
    });
  });
});

describe('Entra configuration', () => {
  const base = { id: 'entra', type: 'entra', tenantId: TENANT_A, clientId: CLIENT_ID, clientSecret: 'x' };

  test('US Government cloud: login.microsoftonline.us and graph.microsoft.us', () => {
    const config = entraProviderSchema.parse({ ...base, nationalCloud: 'usgov' });
    assert.deepEqual(entraUrlsFor(config), {
      authorityHost: 'https://login.microsoftonline.us',
      graphBaseUrl: 'https://graph.microsoft.us',
      issuer: `https://login.microsoftonline.us/${TENANT_A}/v2.0`,
      isMultiTenant: false,
    });
  });

  test('global cloud by default; overrides win and lose their trailing slash', () => {
    const config = entraProviderSchema.parse({ ...base, tenantId: 'Organizations' });
    assert.deepEqual(entraUrlsFor(config), {
      authorityHost: 'https://login.microsoftonline.com',
      graphBaseUrl: 'https://graph.microsoft.com',
      issuer: 'https://login.microsoftonline.com/organizations/v2.0',
      isMultiTenant: true,
    });
    const overridden = entraProviderSchema.parse({
      ...base,
      authorityHost: 'https://login.sovereign.example/',
      graphBaseUrl: 'https://graph.sovereign.example/',
    });
    assert.equal(entraUrlsFor(overridden).issuer, `https://login.sovereign.example/${TENANT_A}/v2.0`);
    assert.equal(entraUrlsFor(overridden).graphBaseUrl, 'https://graph.sovereign.example');
  });

  test('defaults', () => {
    const config = entraProviderSchema.parse(base);
    assert.equal(config.clientAuth, 'client_secret_post');
    assert.deepEqual(config.scopes, ['openid', 'profile', 'email']);
    assert.deepEqual(config.claims, {
      username: 'preferred_username',
      email: 'email',
      name: 'name',
      groups: 'groups',
    });
    assert.equal(config.nationalCloud, 'global');
    assert.equal(config.resolveGroupNames, true);
    assert.equal(config.groupNameCacheTtl, 3_600_000);
    assert.equal(config.insecureAllowHttp, false);
  });

  for (const tenantId of [
    '',
    'consumers',
    'not a tenant',
    'contoso',
    '3f8a2b1c-5d4e-4f6a-8b7c',
    'https://contoso.com',
  ]) {
    test(`tenantId ${JSON.stringify(tenantId)} is refused`, () => {
      const result = entraProviderSchema.safeParse({ ...base, tenantId });
      assert.equal(result.success, false);
      assert.deepEqual(result.error.issues[0]?.path, ['tenantId']);
    });
  }

  for (const tenantId of [TENANT_A.toUpperCase(), 'contoso.onmicrosoft.com', 'organizations', 'common']) {
    test(`tenantId ${tenantId} is accepted`, () => {
      assert.equal(entraProviderSchema.safeParse({ ...base, tenantId }).success, true);
    });
  }

  test('an http authorityHost or graphBaseUrl is refused without insecureAllowHttp', () => {
    const result = entraProviderSchema.safeParse({
      ...base,
      authorityHost: 'http://127.0.0.1:1',
      graphBaseUrl: 'http://127.0.0.1:2',
    });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error.issues.map((issue) => issue.path.join('.')),
      ['authorityHost', 'graphBaseUrl'],
    );
    const allowed = entraProviderSchema.safeParse({
      ...base,
      authorityHost: 'http://127.0.0.1:1',
      insecureAllowHttp: true,
    });
    assert.equal(allowed.success, true);
  });

  test('credentials must fit clientAuth', () => {
    const noSecret: Partial<typeof base> = { ...base };
    delete noSecret.clientSecret;
    assert.deepEqual(
      entraProviderSchema.safeParse(noSecret).error?.issues.map((issue) => issue.path.join('.')),
      ['clientSecret'],
    );
    assert.deepEqual(
      entraProviderSchema
        .safeParse({ ...noSecret, clientAuth: 'private_key_jwt' })
        .error?.issues.map((issue) => issue.path.join('.')),
      ['privateKey'],
    );
  });

  test('allowedTenants: GUIDs, and only for organizations or common', () => {
    assert.equal(entraProviderSchema.safeParse({ ...base, allowedTenants: [TENANT_B] }).success, false);
    assert.equal(
      entraProviderSchema.safeParse({ ...base, tenantId: 'common', allowedTenants: ['contoso.com'] }).success,
      false,
    );
    const config = entraProviderSchema.parse({
      ...base,
      tenantId: 'common',
      allowedTenants: [TENANT_B.toUpperCase()],
    });
    assert.deepEqual(config.allowedTenants, [TENANT_B]);
  });

  test('warnings: any tenant may sign in without allowedTenants', () => {
    const open = entraProviderSchema.parse({ ...base, tenantId: 'common' });
    assert.deepEqual(
      entraConfigWarnings(open, 'providers.1').map((warning) => warning.path),
      ['providers.1.allowedTenants'],
    );
    assert.match(entraConfigWarnings(open, 'providers.1')[0]?.message ?? '', /personal Microsoft accounts/);
    const closed = entraProviderSchema.parse({
      ...base,
      tenantId: 'organizations',
      allowedTenants: [TENANT_A],
    });
    assert.deepEqual(entraConfigWarnings(closed, 'providers.1'), []);
    assert.deepEqual(entraConfigWarnings(entraProviderSchema.parse(base), 'providers.1'), []);
  });
});
