// The SAML provider without an IdP process: the whole acceptance pipeline (samlify's verdict plus the
// gateway's checks) on responses signed with the test IdP key, attribute mapping, one-time assertion
// IDs, the AuthnRequest and LogoutRequest it builds, the metadata sources, the replay cache, the
// session index, logout matching and the config rules.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import {
  samlConfigIssues,
  samlConfigWarnings,
  samlProviderSchema,
  type SamlProviderConfig,
} from '../../src/config/providers/saml-schema.js';
import { ProviderUnavailable } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { fetchedMetadataSource } from '../../src/providers/saml/metadata-source.js';
import { normaliseCertificate } from '../../src/providers/saml/signature-shape.js';
import { SamlResponseRejected } from '../../src/providers/saml/saml-errors.js';
import type { OneTimeIds } from '../../src/providers/one-time-ids.js';
import { createSamlProvider, type SamlServiceProvider } from '../../src/providers/saml/saml-provider.js';
import type { SamlSessionInfo } from '../../src/core/saml-session.js';
import { logoutRequestMatches } from '../../src/providers/saml-endpoints.js';
import { MemoryReplayCache, ReplayCacheFull } from '../../src/session/replay-cache.js';
import { MemorySessionIndex } from '../../src/session/session-index.js';
import { forgeResponseXml, IDP_KEY, sign, toBase64, type ForgeOptions } from '../support/saml-forge.js';
import { waitUntil } from '../support/timing.js';

const IDP_ENTITY = 'https://idp.example.org/metadata';
const GATEWAY = 'https://apps.example.com/.portcullis';
const SP_ENTITY = `${GATEWAY}/saml/corp/metadata`;
const ACS = `${GATEWAY}/saml/corp/acs`;
const IDP_CERT = normaliseCertificate(IDP_KEY.cert);
const silent = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

const IDP_METADATA =
  `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${IDP_ENTITY}">` +
  `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
  `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${IDP_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
  `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/slo"/>` +
  `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>` +
  `</md:IDPSSODescriptor></md:EntityDescriptor>`;

function config(overrides: Record<string, unknown> = {}): SamlProviderConfig {
  return samlProviderSchema.parse({
    id: 'corp',
    type: 'saml',
    idpMetadata: IDP_METADATA,
    attributes: { username: 'uid' },
    ...overrides,
  });
}

function provider(
  overrides: Record<string, unknown> = {},
  replayCache: OneTimeIds = new MemoryReplayCache({ clock: { now: () => Date.now() } }),
): SamlServiceProvider {
  return createSamlProvider(config(overrides), {
    gatewayUrl: GATEWAY,
    replayCache,
    now: () => Date.now(),
    log: silent,
  });
}

function samlResponse(overrides: Partial<ForgeOptions> = {}): string {
  const xml = forgeResponseXml({
    idpEntityId: IDP_ENTITY,
    spEntityId: SP_ENTITY,
    acsUrl: ACS,
    inResponseTo: '_request1',
    nameId: 'alice@example.com',
    attributes: {
      uid: ['alice'],
      email: ['alice@example.com'],
      displayName: ['Alice Admin'],
      groups: ['eng', 'ops'],
    },
    ...overrides,
  });
  return toBase64(sign(sign(xml, 'Assertion', IDP_KEY), 'Response', IDP_KEY));
}

const refusedFor = (reason: string) => (err: unknown) => {
  assert.ok(err instanceof SamlResponseRejected, String(err));
  assert.equal(err.reason, reason, err.message);
  return true;
};

describe('SAML provider: accepting login responses', () => {
  test('maps NameID and attributes to the external identity and keeps NameID + SessionIndex for logout', async () => {
    const login = await provider().saml.acceptLoginResponse(samlResponse(), '_request1');
    assert.deepEqual(login.external, {
      providerId: 'corp',
      externalId: 'alice@example.com',
      username: 'alice',
      email: 'alice@example.com',
      name: 'Alice Admin',
      groups: ['eng', 'ops'],
    });
    assert.equal(login.session.providerId, 'corp');
    assert.equal(login.session.nameId.value, 'alice@example.com');
    assert.match(login.session.sessionIndex ?? '', /^_/);
  });

  test('an assertion ID is accepted once', async () => {
    const sp = provider();
    const response = samlResponse();
    await sp.saml.acceptLoginResponse(response, '_request1');
    await assert.rejects(sp.saml.acceptLoginResponse(response, '_request1'), refusedFor('replay'));
  });

  test('a replay cache that cannot answer refuses rather than accepts', async () => {
    const broken: OneTimeIds = { claimOnce: () => Promise.reject(new Error('redis down')) };
    await assert.rejects(provider({}, broken).saml.acceptLoginResponse(samlResponse(), '_request1'), {
      code: 'PC_SESSION_STORE_UNAVAILABLE',
    });
  });

  test('no groups attribute means "nothing said about groups" (undefined), an empty one means none', async () => {
    const none = await provider().saml.acceptLoginResponse(
      samlResponse({ attributes: { uid: ['carol'] } }),
      '_request1',
    );
    assert.equal(none.external.groups, undefined);
    assert.equal(none.external.email, null);
    assert.equal(none.external.name, null);
    const empty = await provider().saml.acceptLoginResponse(
      samlResponse({ attributes: { uid: ['carol'], groups: [] } }),
      '_request1',
    );
    assert.deepEqual(empty.external.groups, []);
  });

  test('a transient NameID cannot key a user; an ambiguous username attribute is refused', async () => {
    const transient = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
    await assert.rejects(
      provider().saml.acceptLoginResponse(
        samlResponse({ nameIdFormat: transient, nameId: '_t1' }),
        '_request1',
      ),
      refusedFor('subject'),
    );
    const keyed = await provider({
      attributes: { username: 'uid', externalId: 'uid' },
    }).saml.acceptLoginResponse(samlResponse({ nameIdFormat: transient, nameId: '_t2' }), '_request1');
    assert.equal(keyed.external.externalId, 'alice');
    await assert.rejects(
      provider().saml.acceptLoginResponse(
        samlResponse({ attributes: { uid: ['alice', 'root'] } }),
        '_request1',
      ),
      refusedFor('subject'),
    );
  });

  test('samlify’s own verdict is required too: a schema-invalid but signed response is refused', async () => {
    const xml = forgeResponseXml({
      idpEntityId: IDP_ENTITY,
      spEntityId: SP_ENTITY,
      acsUrl: ACS,
      inResponseTo: '_request1',
      nameId: 'alice@example.com',
    }).replace('<saml:Subject>', '<saml:Subject><saml:Bogus/>');
    const signed = toBase64(sign(xml, 'Assertion', IDP_KEY));
    await assert.rejects(provider().saml.acceptLoginResponse(signed, '_request1'), refusedFor('schema'));
  });

  test('when a decryption key is configured, a plaintext assertion is refused', async () => {
    const key = IDP_KEY.key;
    const sp = provider({ decryptionKey: key, decryptionCertificate: IDP_KEY.cert });
    await assert.rejects(sp.saml.acceptLoginResponse(samlResponse(), '_request1'), refusedFor('encryption'));
  });
});

describe('SAML provider: requests it builds', () => {
  test('startLogin: the pending login holds the AuthnRequest ID; RelayState is its opaque state', async () => {
    const { authorizationUrl, pending } = await provider().startLogin('/reports?q=1', 1000);
    assert.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, 'https://idp.example.org/sso');
    assert.equal(authorizationUrl.searchParams.get('RelayState'), pending.state);
    assert.match(pending.state, /^[A-Za-z0-9_-]{43}$/);
    const request = inflateRawSync(
      Buffer.from(authorizationUrl.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    assert.match(request, new RegExp(`ID="${pending.nonce}"`));
    assert.match(request, new RegExp(`AssertionConsumerServiceURL="${ACS}"`));
    assert.equal(pending.returnTo, '/reports?q=1');
    assert.equal(pending.providerId, 'corp');
  });

  test('endSessionUrl: a LogoutRequest naming the session’s NameID and SessionIndex, only for its own sessions', async () => {
    const sp = provider();
    const saml: SamlSessionInfo = {
      providerId: 'corp',
      nameId: {
        value: 'a&b@example.com',
        format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        nameQualifier: null,
        spNameQualifier: SP_ENTITY,
      },
      sessionIndex: '_s1',
    };
    const url = await sp.endSessionUrl(undefined, `${GATEWAY}/logged-out`, { saml });
    assert.ok(url);
    assert.equal(`${url.origin}${url.pathname}`, 'https://idp.example.org/slo');
    const request = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString(
      'utf8',
    );
    assert.match(
      request,
      /<saml:NameID SPNameQualifier="[^"]+" Format="urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress">a&#38;b@example\.com<\/saml:NameID>/,
    );
    assert.match(request, /<samlp:SessionIndex>_s1<\/samlp:SessionIndex>/);
    assert.equal(await sp.endSessionUrl(undefined, '/', {}), undefined);
    assert.equal(
      await sp.endSessionUrl(undefined, '/', { saml: { ...saml, providerId: 'other' } }),
      undefined,
    );
  });

  test('finishLogin refuses: SAML answers arrive at the ACS only', async () => {
    await assert.rejects(provider().finishLogin(new URL(`${GATEWAY}/callback/corp?state=x`), {} as never), {
      code: 'PC_LOGIN_REJECTED',
    });
  });

  test('a broken inline metadata document stops the start, naming what is wrong', () => {
    assert.throws(
      () => provider({ idpMetadata: IDP_METADATA.replace(/<md:SingleSignOnService[^>]*\/>/, '') }),
      /SingleSignOnService/,
    );
  });
});

describe('IdP metadata from a URL', () => {
  const answer = (status: number, body: string) => Promise.resolve(new Response(body, { status }));

  test('never blocks, keeps the last good copy when a fetch fails or returns junk', async () => {
    // Until the test says so every fetch fails, so "no copy yet" holds however slowly the machine
    // runs the refresh timer; then a good copy, a server error and junk, in that order.
    let reachable = false;
    const afterwards: Array<() => Promise<Response>> = [
      () => answer(200, IDP_METADATA),
      () => answer(500, 'down'),
      () => answer(200, '<html>maintenance</html>'),
    ];
    let calls = 0;
    let answeredAfterwards = 0;
    const source = fetchedMetadataSource({
      providerId: 'corp',
      url: 'https://idp.example.org/metadata',
      refreshMs: 40,
      expectedEntityId: undefined,
      now: () => Date.now(),
      log: silent,
      fetch: () => {
        calls += 1;
        if (!reachable) return Promise.reject(new Error('ECONNREFUSED'));
        return (afterwards[answeredAfterwards++] ?? (() => answer(500, '')))();
      },
    });
    const currentEntityId = (): string | undefined => {
      try {
        return source.current().entityId;
      } catch {
        return undefined;
      }
    };
    try {
      await waitUntil(() => calls >= 1, { what: 'the first fetch', timeoutMs: 30_000 });
      assert.throws(() => source.current(), ProviderUnavailable, 'no copy yet: sign-in gets a 503');
      reachable = true;
      assert.equal(
        await waitUntil(currentEntityId, { what: 'the good copy', timeoutMs: 30_000 }),
        IDP_ENTITY,
        'the refresh brought a good copy',
      );
      // A fourth answer is asked for only after the error and the junk were answered.
      await waitUntil(() => answeredAfterwards >= 4, {
        what: 'the failed and junk refreshes',
        timeoutMs: 30_000,
      });
      assert.equal(currentEntityId(), IDP_ENTITY, 'failed and junk fetches keep the last good copy');
    } finally {
      source.close();
    }
  });
});

describe('replay cache (memory)', () => {
  test('first claim wins until the claim expires; when full of live claims it refuses', async () => {
    let now = 0;
    const cache = new MemoryReplayCache({ clock: { now: () => now }, maxEntries: 2 });
    try {
      assert.equal(await cache.claimOnce('a', 5_000), true);
      assert.equal(await cache.claimOnce('a', 5_000), false);
      now += 5_000;
      assert.equal(await cache.claimOnce('a', 5_000), true, 'expired claims are forgotten');
      assert.equal(await cache.claimOnce('b', 5_000), true);
      await assert.rejects(cache.claimOnce('c', 5_000), ReplayCacheFull);
      now += 5_000;
      assert.equal(await cache.claimOnce('c', 5_000), true, 'room again once claims expire');
    } finally {
      cache.close();
    }
  });
});

describe('session index (memory)', () => {
  test('lists, removes and expires session ids per key; bounded', async () => {
    let now = 0;
    const index = new MemorySessionIndex({ clock: { now: () => now }, maxKeys: 2 });
    await index.add('k1', 's1', 1_000);
    await index.add('k1', 's2', 5_000);
    await index.add('k2', 's3', 5_000);
    assert.deepEqual(await index.sessionIds('k1'), ['s1', 's2']);
    now = 2_000;
    assert.deepEqual(await index.sessionIds('k1'), ['s2']);
    await index.remove('k1', 's2');
    assert.deepEqual(await index.sessionIds('k1'), []);
    await index.add('k3', 's4', 5_000);
    await index.add('k4', 's5', 5_000);
    assert.deepEqual(await index.sessionIds('k2'), [], 'the oldest key went when full');
  });
});

describe('logout matching', () => {
  const session: SamlSessionInfo = {
    providerId: 'corp',
    nameId: {
      value: 'alice@example.com',
      format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      nameQualifier: null,
      spNameQualifier: SP_ENTITY,
    },
    sessionIndex: '_s1',
  };
  const request = (changes: { value?: string; format?: string | null; sessionIndexes?: string[] } = {}) => ({
    nameId: {
      value: changes.value ?? 'alice@example.com',
      format: changes.format === undefined ? session.nameId.format : changes.format,
      nameQualifier: null,
      spNameQualifier: null,
    },
    sessionIndexes: changes.sessionIndexes ?? [],
  });

  test('same provider and NameID; SessionIndex when given; stated formats must agree', () => {
    assert.equal(logoutRequestMatches(session, 'corp', request()), true);
    assert.equal(logoutRequestMatches(session, 'other', request()), false);
    assert.equal(logoutRequestMatches(session, 'corp', request({ value: 'bob@example.com' })), false);
    assert.equal(logoutRequestMatches(session, 'corp', request({ sessionIndexes: ['_s2', '_s1'] })), true);
    assert.equal(logoutRequestMatches(session, 'corp', request({ sessionIndexes: ['_s2'] })), false);
    assert.equal(
      logoutRequestMatches(
        session,
        'corp',
        request({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' }),
      ),
      false,
    );
    assert.equal(logoutRequestMatches(session, 'corp', request({ format: null })), true);
  });
});

describe('saml provider config', () => {
  test('exactly one metadata source; http only when allowed; keys and certificates in pairs', () => {
    const issues = (overrides: Record<string, unknown>) =>
      samlConfigIssues(config(overrides), 'providers.0').map((i) => `${i.path}: ${i.message}`);
    assert.deepEqual(issues({}), []);
    assert.match(
      issues({ idpMetadataUrl: 'https://idp.example.org/md' }).join('\n'),
      /exactly one of idpMetadataUrl/,
    );
    const noMetadata = samlProviderSchema.parse({ id: 'corp', type: 'saml' });
    assert.match(
      samlConfigIssues(noMetadata, 'providers.0')
        .map((i) => i.message)
        .join('\n'),
      /exactly one/,
    );
    assert.match(
      issues({ idpMetadata: undefined, idpMetadataUrl: 'http://idp.example.org/md' }).join('\n'),
      /plain http/,
    );
    assert.deepEqual(
      issues({
        idpMetadata: undefined,
        idpMetadataUrl: 'http://idp.example.org/md',
        insecureAllowHttp: true,
      }),
      [],
    );
    assert.match(issues({ signingKey: IDP_KEY.key }).join('\n'), /signingCertificate: is required/);
    assert.deepEqual(issues({ signingKey: IDP_KEY.key, signingCertificate: IDP_KEY.cert }), []);
  });

  test('warns about IdP-initiated login', () => {
    assert.match(
      samlConfigWarnings(config({ allowIdpInitiated: true }), 'providers.0')[0]?.message ?? '',
      /login CSRF/,
    );
  });
});
