// SAML 2.0 through the gateway against a real IdP (SimpleSAMLphp, test/support/saml-idp.ts): the SP
// metadata the IdP registers, full logins through the IdP's login form for alice, bob and carol, group
// sync (carol, whom the IdP sends no groups attribute, keeps hers), single logout in both directions,
// IdP-initiated login only when enabled, signed AuthnRequests with encrypted assertions, and IdP
// logout reaching a session through another replica (Redis).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TestBrowser } from '../support/browser.js';
import type { TestRedis } from '../support/redis-server.js';
import { requireSimpleSamlPhp, SAML_KEYS_DIR, startSamlIdp, type SamlIdp } from '../support/saml-idp.js';
import {
  errorCodeOf,
  genuineResponse,
  JSON_HEADERS,
  loginThroughSaml,
  postToAcs,
  responseFromIdp,
  samlSuiteSkip,
  startSamlStack,
  startSamlSuite,
  userinfo,
  type SamlStack,
  type SamlSuite,
} from '../support/saml-stack.js';
import { stopInOrder } from '../support/stop-in-order.js';

const ssp = requireSimpleSamlPhp();

interface EchoView {
  url: string;
  headers: Record<string, string | undefined>;
  assertion: { valid: boolean; claims?: Record<string, unknown> } | null;
}

async function appView(
  stack: SamlStack,
  browser: TestBrowser,
  path: string,
): Promise<{ status: number; echo: EchoView | null }> {
  const response = await browser.request(`${stack.publicUrl}${path}`, { headers: { ...JSON_HEADERS } });
  return {
    status: response.status,
    echo: response.status === 200 ? (JSON.parse(response.body) as EchoView) : null,
  };
}

/** SP-initiated logout as the browser does it: the confirmation form posts same-origin. */
async function logout(stack: SamlStack, browser: TestBrowser) {
  return browser.navigate(`${stack.publicUrl}/.portcullis/logout`, {
    method: 'POST',
    form: {},
    referrer: `${stack.publicUrl}/.portcullis/logout`,
  });
}

describe('SAML login through SimpleSAMLphp', { skip: samlSuiteSkip() }, () => {
  let suite: SamlSuite | undefined;
  let idp: SamlIdp;
  let stack: SamlStack;

  before(async () => {
    suite = await startSamlSuite();
    ({ idp, stack } = suite);
  });
  after(() => suite?.close());

  test('serves SP metadata the IdP accepts: entity ID, POST ACS, Redirect SLO, signed assertions wanted', async () => {
    const response = await fetch(stack.metadataUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/samlmetadata\+xml/);
    const xml = await response.text();
    assert.match(xml, new RegExp(`entityID="${stack.entityId}"`));
    assert.match(xml, /WantAssertionsSigned="true"/);
    assert.match(
      xml,
      new RegExp(
        `<(md:)?AssertionConsumerService[^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"[^>]*Location="${stack.acsUrl}"`,
      ),
    );
    assert.match(
      xml,
      new RegExp(
        `<(md:)?SingleLogoutService[^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"[^>]*Location="${stack.sloUrl}"`,
      ),
    );
    const notSaml = await fetch(`${stack.publicUrl}/.portcullis/saml/nope/metadata`, {
      headers: JSON_HEADERS,
    });
    assert.equal(notSaml.status, 404);
  });

  test('the AuthnRequest asks for the ACS by POST; RelayState is opaque, never the return URL', async () => {
    const browser = new TestBrowser();
    const start = await browser.request(
      `${stack.publicUrl}/.portcullis/login/corp?rd=${encodeURIComponent('/reports/q3?x=1')}`,
    );
    assert.equal(start.status, 302);
    const location = new URL(start.headers.location ?? '');
    assert.equal(`${location.origin}${location.pathname}`, idp.ssoUrl);
    const relayState = location.searchParams.get('RelayState') ?? '';
    assert.match(relayState, /^[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(relayState, /reports/);
    const request = inflateRawSync(
      Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    assert.match(request, new RegExp(`AssertionConsumerServiceURL="${stack.acsUrl}"`));
    assert.match(request, /ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/);
    assert.match(request, new RegExp(`<saml:Issuer>${stack.entityId}</saml:Issuer>`));
    assert.equal(location.searchParams.get('Signature'), null, 'unsigned without a signingKey');
  });

  test('alice signs in through the IdP form and reaches the app with her groups and the admin role', async () => {
    const browser = new TestBrowser();
    const landing = await loginThroughSaml(stack, browser, 'alice', '/reports/q3?x=1');
    assert.equal(landing.status, 200, landing.body.slice(0, 300));
    assert.equal(new URL(landing.url).pathname, '/reports/q3', 'lands on the return URL kept server-side');

    const info = await userinfo(stack, browser);
    assert.equal(info.status, 200);
    assert.equal(info.body['sub'], 'corp:alice@example.com');
    assert.equal(info.body['username'], 'alice');
    assert.equal(info.body['email'], 'alice@example.com');
    assert.equal(info.body['name'], 'Alice Admin');
    assert.deepEqual(info.body['groups'], ['all-users', 'eng', 'gw-admins']);
    assert.deepEqual(info.body['roles'], ['admin']);

    const admins = await appView(stack, browser, '/admins/panel');
    assert.equal(admins.status, 200);
    assert.equal(admins.echo?.headers['x-auth-request-user'], 'alice');
    assert.equal(admins.echo.headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(admins.echo.headers['x-auth-request-groups'], 'all-users,eng,gw-admins');
    assert.equal(admins.echo.assertion?.valid, true, 'the app verifies the signed identity assertion');
  });

  test('bob signs in with his groups only: eng yes, admins no', async () => {
    const browser = new TestBrowser();
    const landing = await loginThroughSaml(stack, browser, 'bob', '/eng/');
    assert.equal(landing.status, 200);
    const info = await userinfo(stack, browser);
    assert.equal(info.body['sub'], 'corp:bob@example.com');
    assert.deepEqual(info.body['groups'], ['all-users', 'eng']);
    assert.deepEqual(info.body['roles'], []);
    assert.equal((await appView(stack, browser, '/eng/x')).status, 200);
    assert.equal((await appView(stack, browser, '/admins/x')).status, 403);
  });

  test('carol keeps the groups synced earlier when the IdP sends no groups attribute at all', async () => {
    // An earlier login in which the IdP did list a group for carol.
    idp.setAttributeOverrides({ carol: { groups: ['contractors', 'eng'] } });
    try {
      const first = new TestBrowser();
      await loginThroughSaml(stack, first, 'carol');
      assert.deepEqual((await userinfo(stack, first)).body['groups'], ['all-users', 'contractors', 'eng']);
    } finally {
      idp.setAttributeOverrides({});
    }
    // Now as the fixture defines her: no groups attribute.
    const browser = new TestBrowser();
    const landing = await loginThroughSaml(stack, browser, 'carol', '/eng/');
    assert.equal(landing.status, 200);
    const info = await userinfo(stack, browser);
    assert.equal(info.body['name'], 'Carol Contractor');
    assert.deepEqual(info.body['groups'], ['all-users', 'contractors', 'eng'], 'memberships unchanged');
    // When the IdP lists groups again, sync removes the ones it no longer lists.
    idp.setAttributeOverrides({ carol: { groups: ['eng'] } });
    try {
      const third = new TestBrowser();
      await loginThroughSaml(stack, third, 'carol');
      assert.deepEqual((await userinfo(stack, third)).body['groups'], ['all-users', 'eng']);
    } finally {
      idp.setAttributeOverrides({});
    }
  });

  test('SP-initiated single logout ends the session here and at the IdP', async () => {
    const browser = new TestBrowser();
    await loginThroughSaml(stack, browser, 'bob');
    assert.equal((await userinfo(stack, browser)).status, 200);

    const { final, chain } = await logout(stack, browser);
    const toIdp = new URL(chain[0]?.headers.location ?? '');
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, idp.sloUrl, 'the logout goes to the IdP SLO endpoint');
    const logoutRequest = inflateRawSync(
      Buffer.from(toIdp.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    assert.match(logoutRequest, />bob@example\.com<\/saml:NameID>/);
    assert.match(logoutRequest, /<samlp:SessionIndex>_[0-9a-f]+<\/samlp:SessionIndex>/);
    assert.ok(
      chain.some((step) => step.url.startsWith(`${stack.sloUrl}?SAMLResponse=`)),
      'the IdP answers at the SLO endpoint',
    );
    assert.equal(final.url, `${stack.publicUrl}/.portcullis/logged-out`);
    assert.equal(final.status, 200);
    assert.equal((await userinfo(stack, browser)).status, 401);

    // The IdP session ended too: the next sign-in shows the IdP's password form again.
    const { final: again } = await browser.navigate(`${stack.publicUrl}/.portcullis/login/corp`);
    assert.match(again.body, /name="username"/);
  });

  test('IdP-initiated single logout ends the sessions of that IdP session, and only those', async () => {
    const aliceHere = new TestBrowser();
    const aliceElsewhere = new TestBrowser(); // alice again, in another IdP session
    const bob = new TestBrowser();
    await loginThroughSaml(stack, aliceHere, 'alice');
    await loginThroughSaml(stack, aliceElsewhere, 'alice');
    await loginThroughSaml(stack, bob, 'bob');

    const returnTo = `${stack.publicUrl}/.portcullis/logged-out`;
    const { final, chain } = await aliceHere.navigate(
      `${idp.sloUrl}?ReturnTo=${encodeURIComponent(returnTo)}`,
    );
    const toGateway = chain.find((step) => step.url.startsWith(`${stack.sloUrl}?SAMLRequest=`));
    assert.ok(
      toGateway,
      `the IdP sends a LogoutRequest to the gateway: ${chain.map((s) => s.url).join(' → ')}\n${idp.logs()}`,
    );
    assert.equal(toGateway.status, 302);
    const answer = new URL(toGateway.headers.location ?? '');
    assert.equal(`${answer.origin}${answer.pathname}`, idp.sloUrl);
    const logoutResponse = inflateRawSync(
      Buffer.from(answer.searchParams.get('SAMLResponse') ?? '', 'base64'),
    ).toString('utf8');
    assert.match(logoutResponse, /urn:oasis:names:tc:SAML:2\.0:status:Success/);
    assert.equal(final.url, returnTo, `the IdP completes its logout: ${idp.logs()}`);

    assert.equal((await userinfo(stack, aliceHere)).status, 401, 'the session of that IdP session ended');
    assert.equal(
      (await userinfo(stack, aliceElsewhere)).status,
      200,
      'another IdP session (another SessionIndex) stays',
    );
    assert.equal((await userinfo(stack, bob)).status, 200, 'other users stay');
  });

  test('a replayed LogoutRequest is refused', async () => {
    const browser = new TestBrowser();
    await loginThroughSaml(stack, browser, 'bob');
    const { chain } = await browser.navigate(
      `${idp.sloUrl}?ReturnTo=${encodeURIComponent(`${stack.publicUrl}/`)}`,
    );
    const delivered = chain.find((step) => step.url.startsWith(`${stack.sloUrl}?SAMLRequest=`));
    assert.ok(delivered);
    const again = await new TestBrowser().request(delivered.url, { headers: { ...JSON_HEADERS } });
    assert.equal(again.status, 400);
    assert.equal(errorCodeOf(again), 'PC_SAML_LOGOUT_REJECTED');
    assert.ok(stack.gateway.logs.lines.some((line) => /SAML logout message refused \(replay\)/.test(line)));
  });

  test('an unsolicited (IdP-initiated) response is refused while allowIdpInitiated is off', async () => {
    const browser = new TestBrowser();
    const form = await responseFromIdp(
      browser,
      `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}`,
      'bob',
    );
    assert.doesNotMatch(Buffer.from(form.SAMLResponse, 'base64').toString('utf8'), /InResponseTo/);
    const before = stack.loginEvents().length;
    const refused = await postToAcs(stack, browser, form, { headers: { ...JSON_HEADERS } });
    assert.equal(refused.status, 400);
    assert.equal(errorCodeOf(refused), 'PC_LOGIN_STATE_INVALID');
    assert.equal(stack.loginEvents().length, before);
    assert.equal((await userinfo(stack, browser)).status, 401);
  });
});

describe('SAML options through SimpleSAMLphp', { skip: samlSuiteSkip() }, () => {
  let idp: SamlIdp;
  before(async () => {
    idp = await startSamlIdp((ssp as { php: string }).php);
  });
  after(() => stopInOrder(idp));

  test('IdP-initiated login works when enabled, landing on a RelayState that passes the return-URL rules', async () => {
    const stack = await startSamlStack(idp, { provider: { allowIdpInitiated: true } });
    try {
      const browser = new TestBrowser();
      const relayState = encodeURIComponent('/from-dashboard');
      const form = await responseFromIdp(
        browser,
        `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}&RelayState=${relayState}`,
        'alice',
      );
      const done = await postToAcs(stack, browser, form);
      assert.equal(done.status, 303, done.body.slice(0, 300));
      assert.equal(done.headers.location, '/from-dashboard');
      assert.equal((await userinfo(stack, browser)).body['sub'], 'corp:alice@example.com');

      const evilRelay = await responseFromIdp(
        browser,
        `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}&RelayState=${encodeURIComponent('https://evil.example/')}`,
        'alice',
      );
      const safe = await postToAcs(stack, new TestBrowser(), evilRelay);
      assert.equal(safe.status, 303);
      assert.equal(safe.headers.location, '/', 'a RelayState pointing elsewhere is not followed');
    } finally {
      await stack.close();
    }
  });

  test('signed AuthnRequests and encrypted assertions: the IdP checks our signature, we decrypt', async () => {
    const key = readFileSync(join(SAML_KEYS_DIR, 'sp.key'), 'utf8');
    const cert = readFileSync(join(SAML_KEYS_DIR, 'sp.crt'), 'utf8');
    const stack = await startSamlStack(idp, {
      provider: {
        signingKey: key,
        signingCertificate: cert,
        decryptionKey: key,
        decryptionCertificate: cert,
      },
      spSettings: { 'assertion.encryption': true, 'validate.authnrequest': true, 'validate.logout': true },
    });
    try {
      const metadata = await (await fetch(stack.metadataUrl)).text();
      assert.match(metadata, /AuthnRequestsSigned="true"/);
      assert.match(metadata, /use="signing"/);
      assert.match(metadata, /use="encryption"/);

      const browser = new TestBrowser();
      const start = await browser.request(`${stack.publicUrl}/.portcullis/login/corp`);
      const location = new URL(start.headers.location ?? '');
      assert.equal(location.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      assert.ok(location.searchParams.get('Signature'));

      const form = await responseFromIdp(browser, location.href, 'bob', `${stack.publicUrl}/`);
      const xml = Buffer.from(form.SAMLResponse, 'base64').toString('utf8');
      assert.match(xml, /EncryptedAssertion/);
      assert.doesNotMatch(xml, /bob@example\.com/, 'the identity travels encrypted');
      const done = await postToAcs(stack, browser, form);
      assert.equal(
        done.status,
        303,
        stack.gateway.logs.lines.filter((line) => /refused/.test(line)).join('\n'),
      );
      assert.equal((await userinfo(stack, browser)).body['sub'], 'corp:bob@example.com');

      // The signed LogoutRequest is accepted by the IdP, which requires signatures for this SP.
      const { final } = await logout(stack, browser);
      assert.equal(final.url, `${stack.publicUrl}/.portcullis/logged-out`, idp.logs());
      assert.equal((await userinfo(stack, browser)).status, 401);

      // Only the assertion signed (inside the encryption), the Response not: still accepted.
      stack.registerAtIdp({
        'assertion.encryption': true,
        'validate.authnrequest': true,
        'saml20.sign.response': false,
      });
      const alice = new TestBrowser();
      const start2 = await alice.request(`${stack.publicUrl}/.portcullis/login/corp`);
      const form2 = await responseFromIdp(
        alice,
        start2.headers.location ?? '',
        'alice',
        `${stack.publicUrl}/`,
      );
      assert.doesNotMatch(
        Buffer.from(form2.SAMLResponse, 'base64').toString('utf8'),
        /<ds:Signature/,
        'no Response signature',
      );
      const done2 = await postToAcs(stack, alice, form2);
      assert.equal(
        done2.status,
        303,
        stack.gateway.logs.lines.filter((line) => /refused/.test(line)).join('\n'),
      );
      assert.equal((await userinfo(stack, alice)).body['sub'], 'corp:alice@example.com');
    } finally {
      await stack.close();
    }
  });

  test('metadata from a URL that is down: the gateway starts, sign-in answers 503, public health stays up', async () => {
    const stack = await startSamlStack(idp);
    try {
      const { startGatewayFromRaw } = await import('../support/gateway-stack.js');
      const raw = structuredClone(stack.rawConfig) as {
        server: { listen: string };
        providers: Array<Record<string, unknown>>;
      };
      raw.server.listen = '127.0.0.1:0';
      (raw.providers[0] as Record<string, unknown>).idpMetadataUrl = 'http://127.0.0.1:9/metadata.xml';
      const down = await startGatewayFromRaw(raw);
      try {
        const base = `http://127.0.0.1:${down.gateway.port}`;
        assert.equal((await fetch(`${base}/.portcullis/healthz`)).status, 200);
        const login = await fetch(`${base}/.portcullis/login/corp`, {
          redirect: 'manual',
          headers: JSON_HEADERS,
        });
        assert.equal(login.status, 503);
        assert.equal(((await login.json()) as { error: string }).error, 'PC_PROVIDER_UNAVAILABLE');
      } finally {
        await down.close();
      }
    } finally {
      await stack.close();
    }
  });
});

describe('SAML with sessions in Redis', { skip: samlSuiteSkip({ redis: true }) }, () => {
  let suite: SamlSuite | undefined;
  let idp: SamlIdp;
  let redis: TestRedis;
  let stack: SamlStack;
  before(async () => {
    suite = await startSamlSuite({ redis: true });
    assert.ok(suite.redis);
    ({ idp, stack, redis } = { ...suite, redis: suite.redis });
  });
  after(() => suite?.close());

  test('a SAML login saves its new session once, with the SAML subject in it', async () => {
    const browser = new TestBrowser();
    const { form } = await genuineResponse(stack, browser, 'alice');
    const keyPrefix = (stack.rawConfig.session as { redis: { keyPrefix: string } }).redis.keyPrefix;
    const sessionKeys = `${keyPrefix}sess:`;
    // Every command Redis runs while the ACS answers, as MONITOR reports it.
    const monitor = await new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 }).monitor();
    const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const commands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
    try {
      const acs = await postToAcs(stack, browser, form);
      assert.equal(acs.status, 303, acs.body.slice(0, 300));
      // MONITOR reports asynchronously: wait until a marker sent after the login has come through.
      const marker = `${keyPrefix}marker`;
      await probe.get(marker);
      for (let waited = 0; !commands.some((args) => args[1] === marker) && waited < 5_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      monitor.disconnect();
      probe.disconnect();
    }
    const signed = decodeURIComponent(browser.cookies(stack.publicUrl).get('portcullis') ?? '');
    const sessionId = signed.slice(2, signed.lastIndexOf('.'));
    assert.ok(sessionId !== '', 'the browser holds a session cookie');
    const writes = commands.filter(
      (args) => args[0]?.toLowerCase() === 'set' && args[1]?.startsWith(sessionKeys) === true,
    );
    const writesOfNew = writes.filter((args) => args[1] === `${sessionKeys}${sessionId}`);
    // The login saves the new session once, SAML subject included, so no record without it is ever
    // stored. express-session then commits it once more as the response ends: it only tracks saves
    // of the session it loaded or generated itself, never of one made by regenerate(), so every
    // login (OIDC and break-glass too) has that second write. Before, SAML saved a third time.
    assert.equal(writesOfNew.length, 2, `SETs of the new session: ${writesOfNew.length}`);
    for (const args of writesOfNew) assert.match(args[2] ?? '', /"saml":\{"providerId":"corp"/);
    // The only other write: the old (pre-login) session giving up its pending login before verification.
    assert.equal(writes.length - writesOfNew.length, 1, writes.map((args) => args[1]).join('\n'));
    assert.equal((await userinfo(stack, browser)).status, 200, 'the session works');
  });

  test('an IdP LogoutRequest arriving at another replica ends a session made on the first', async () => {
    const browser = new TestBrowser();
    await loginThroughSaml(stack, browser, 'alice');
    const replica = await stack.startReplica();
    const replicaBase = `http://localhost:${replica.gateway.port}`;
    // Follow the IdP up to where it sends the LogoutRequest to the gateway; deliver it to the replica instead.
    let next = `${idp.sloUrl}?ReturnTo=${encodeURIComponent(`${stack.publicUrl}/`)}`;
    while (!next.startsWith(`${stack.sloUrl}?`)) {
      const step = await browser.request(next);
      assert.equal(step.status, 302, `${step.url}: ${step.status}\n${idp.logs()}`);
      next = new URL(step.headers.location ?? '', step.url).href;
    }
    const logoutRequest = new URL(next);
    const atReplica = await browser.request(`${replicaBase}${logoutRequest.pathname}${logoutRequest.search}`);
    assert.equal(atReplica.status, 302, atReplica.body.slice(0, 300));
    assert.equal((await userinfo(stack, browser)).status, 401, 'ended on the first replica too');
    assert.equal((await userinfo({ publicUrl: replicaBase }, browser)).status, 401);
  });
});
