// Attacks on the SAML ACS, through the gateway, against responses from a real IdP (SimpleSAMLphp) or
// signed with that IdP's own key (so each attack reaches the check it targets, not just the signature):
// XML signature wrapping XSW1-8, signature stripped, unsigned assertion in a signed Response, re-signed
// with a foreign key carried in KeyInfo, a comment injected into the NameID, wrong audience, recipient
// and destination, expired, a DOCTYPE, InResponseTo from another session, and replay on the same
// instance and on a second instance sharing Redis. Every one is refused, with no session created.
// Each group starts with the honest case through the same setup, so a broken setup cannot make the
// refusals pass vacuously.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBrowser, type BrowserResponse } from '../support/browser.js';
import {
  ATTACKER_KEY,
  findAll,
  first,
  forgeResponseXml,
  fromBase64,
  IDP_KEY,
  mutate,
  NS,
  ownSignature,
  parseXml,
  setNameId,
  sign,
  stripSignatures,
  toBase64,
  xsw,
  type ForgeOptions,
  type MElement,
  type XswVariant,
} from '../support/saml-forge.js';
import type { SamlIdp } from '../support/saml-idp.js';
import {
  errorCodeOf,
  genuineResponse,
  JSON_HEADERS,
  postToAcs,
  responseFromIdp,
  samlSuiteSkip,
  startSamlSuite,
  startSpLogin,
  userinfo,
  type SamlStack,
  type SamlSuite,
} from '../support/saml-stack.js';

interface Outcome {
  response: BrowserResponse;
  /** The reasons the gateway logged for refusing (`SAML response refused (reason)`). */
  reasons: string[];
  newLogins: number;
}

/** Posts a SAMLResponse (as XML) through the browser's two-step ACS delivery and reports what happened. */
async function attempt(
  stack: SamlStack,
  browser: TestBrowser,
  xml: string,
  relayState: string | undefined,
  acsUrl?: string,
): Promise<Outcome> {
  const logsBefore = new Map(stack.gateways().map((gateway) => [gateway, gateway.logs.lines.length]));
  const loginsBefore = stack.loginEvents().length;
  const response = await postToAcs(
    stack,
    browser,
    { SAMLResponse: toBase64(xml), RelayState: relayState },
    {
      headers: { ...JSON_HEADERS },
      ...(acsUrl === undefined ? {} : { acsUrl }),
    },
  );
  const reasons = stack
    .gateways()
    .flatMap((gateway) => gateway.logs.lines.slice(logsBefore.get(gateway) ?? 0))
    .map((line) => /SAML response refused \(([a-z-]+)\)/.exec(line)?.[1])
    .filter((reason): reason is string => reason !== undefined);
  return { response, reasons, newLogins: stack.loginEvents().length - loginsBefore };
}

async function assertRefused(
  stack: SamlStack,
  browser: TestBrowser,
  outcome: Outcome,
  expected: { status?: number; code?: string; reason?: string },
  context: string,
): Promise<void> {
  const { response } = outcome;
  const status = expected.status ?? 401;
  assert.equal(response.status, status, `${context}: got ${response.status} ${response.body.slice(0, 300)}`);
  assert.equal(response.headers.location, undefined, `${context}: must not redirect`);
  assert.equal(errorCodeOf(response), expected.code ?? 'PC_LOGIN_REJECTED', context);
  if (expected.reason !== undefined) {
    assert.deepEqual(outcome.reasons, [expected.reason], `${context}: refused for the wrong reason`);
  }
  assert.equal(outcome.newLogins, 0, `${context}: a login was recorded`);
  assert.equal((await userinfo(stack, browser)).status, 401, `${context}: the browser holds a session`);
}

function assertAccepted(outcome: Outcome, context: string): void {
  assert.equal(
    outcome.response.status,
    303,
    `${context}: ${outcome.response.body.slice(0, 300)} ${outcome.reasons.join(',')}`,
  );
  assert.equal(outcome.newLogins, 1, context);
}

describe('SAML response attacks through the gateway', { skip: samlSuiteSkip() }, () => {
  let suite: SamlSuite | undefined;
  let idp: SamlIdp;
  let stack: SamlStack;

  before(async () => {
    suite = await startSamlSuite();
    ({ idp, stack } = suite);
  });
  after(() => suite?.close());

  /** A response for this browser's pending login, signed with the IdP's own key (assertion and Response, like SimpleSAMLphp). */
  async function forged(
    browser: TestBrowser,
    overrides: Partial<ForgeOptions> = {},
    signWhat: 'both' | 'assertion' | 'response' = 'both',
  ) {
    const start = await startSpLogin(stack, browser);
    let xml = forgeResponseXml({
      idpEntityId: idp.entityId,
      spEntityId: stack.entityId,
      acsUrl: stack.acsUrl,
      inResponseTo: start.requestId,
      nameId: 'alice@example.com',
      attributes: { uid: ['alice'], email: ['alice@example.com'], groups: ['gw-admins'] },
      ...overrides,
    });
    if (signWhat !== 'response') xml = sign(xml, 'Assertion', IDP_KEY);
    if (signWhat !== 'assertion') xml = sign(xml, 'Response', IDP_KEY);
    return { xml, relayState: start.relayState };
  }

  test('baselines: a genuine SimpleSAMLphp response and a response signed with the IdP key both sign in', async () => {
    const browser = new TestBrowser();
    const { form } = await genuineResponse(stack, browser, 'bob');
    const genuine = await attempt(stack, browser, fromBase64(form.SAMLResponse), form.RelayState);
    assertAccepted(genuine, 'genuine');
    assert.equal((await userinfo(stack, browser)).body['sub'], 'corp:bob@example.com');

    const other = new TestBrowser();
    const { xml, relayState } = await forged(other);
    assertAccepted(await attempt(stack, other, xml, relayState), 'forged with the IdP key');
    assert.equal((await userinfo(stack, other)).body['sub'], 'corp:alice@example.com');
  });

  for (const variant of [1, 2, 3, 4, 5, 6, 7, 8] as XswVariant[]) {
    test(`XSW${variant}: a wrapped genuine response claiming alice is refused`, async () => {
      const browser = new TestBrowser();
      const { form } = await genuineResponse(stack, browser, 'bob');
      const wrapped = xsw(variant, fromBase64(form.SAMLResponse), 'alice@example.com');
      assert.match(wrapped, /alice@example\.com/);
      const outcome = await attempt(stack, browser, wrapped, form.RelayState);
      await assertRefused(stack, browser, outcome, { reason: 'wrapping' }, `XSW${variant}`);
    });
  }

  test('signature stripped (and the NameID changed): refused as unsigned', async () => {
    const browser = new TestBrowser();
    const { form } = await genuineResponse(stack, browser, 'bob');
    const stripped = mutate(stripSignatures(fromBase64(form.SAMLResponse)), (doc) =>
      setNameId(doc, 'alice@example.com'),
    );
    assert.doesNotMatch(stripped, /Signature/);
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, stripped, form.RelayState),
      { reason: 'unsigned' },
      'stripped',
    );
  });

  test('only the assertion signature stripped: the Response signature no longer verifies', async () => {
    const browser = new TestBrowser();
    const { form } = await genuineResponse(stack, browser, 'bob');
    const xml = mutate(fromBase64(form.SAMLResponse), (doc) => {
      const assertion = first(doc, 'Assertion', NS.assertion);
      assertion.removeChild(ownSignature(assertion) as MElement);
    });
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, xml, form.RelayState),
      { reason: 'signature' },
      'assertion signature stripped',
    );
  });

  test('a correctly signed Response around an unsigned assertion is refused: the assertion itself must be signed', async () => {
    const browser = new TestBrowser();
    const { xml, relayState } = await forged(browser, {}, 'response');
    assert.equal(
      ownSignature(first(parseXml(xml), 'Assertion', NS.assertion)),
      undefined,
      'the assertion is unsigned',
    );
    assert.notEqual(ownSignature(parseXml(xml).documentElement), undefined, 'the Response is signed');
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, xml, relayState),
      { reason: 'unsigned' },
      'signed Response only',
    );
  });

  test('re-signed with another key carried in KeyInfo, or with no KeyInfo at all: refused', async () => {
    for (const keepKeyInfo of [true, false]) {
      const browser = new TestBrowser();
      const { form } = await genuineResponse(stack, browser, 'bob');
      let xml = mutate(stripSignatures(fromBase64(form.SAMLResponse)), (doc) =>
        setNameId(doc, 'alice@example.com'),
      );
      xml = sign(sign(xml, 'Assertion', ATTACKER_KEY), 'Response', ATTACKER_KEY);
      if (!keepKeyInfo) {
        xml = mutate(xml, (doc) => {
          for (const keyInfo of findAll(doc, 'KeyInfo', NS.dsig))
            (keyInfo.parentNode as MElement).removeChild(keyInfo);
        });
      }
      assert.equal(keepKeyInfo, xml.includes('X509Certificate'));
      await assertRefused(
        stack,
        browser,
        await attempt(stack, browser, xml, form.RelayState),
        { reason: 'signature' },
        `re-signed, KeyInfo ${keepKeyInfo}`,
      );
    }
  });

  test('a comment injected into a signed NameID cannot truncate the identity: refused', async () => {
    // The attacker owns alice@example.com.evil.com at the IdP and gets a validly signed assertion for it.
    const browser = new TestBrowser();
    const { xml, relayState } = await forged(
      browser,
      { nameId: 'alice@example.com.evil.com', attributes: {} },
      'assertion',
    );
    const injected = xml.replace('>alice@example.com.evil.com<', '>alice@example.com<!---->.evil.com<');
    assert.notEqual(injected, xml);
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, injected, relayState),
      { reason: 'comment' },
      'comment in NameID',
    );

    // The same on a genuine SimpleSAMLphp response (comments are outside the signature's view).
    const other = new TestBrowser();
    const { form } = await genuineResponse(stack, other, 'bob');
    const genuine = fromBase64(form.SAMLResponse).replace('>bob@example.com<', '>bob<!-- -->@example.com<');
    assert.notEqual(genuine, fromBase64(form.SAMLResponse));
    await assertRefused(
      stack,
      other,
      await attempt(stack, other, genuine, form.RelayState),
      { reason: 'comment' },
      'comment in genuine NameID',
    );
  });

  test('wrong audience, wrong recipient, wrong destination: refused, each for its own reason', async () => {
    const cases: Array<[string, Partial<ForgeOptions>, string]> = [
      ['audience', { audience: 'https://other-sp.example/metadata' }, 'audience'],
      ['recipient', { recipient: `${stack.publicUrl}/.portcullis/saml/other/acs` }, 'recipient'],
      ['destination', { destination: 'https://other-sp.example/acs' }, 'destination'],
    ];
    for (const [label, overrides, reason] of cases) {
      const browser = new TestBrowser();
      const { xml, relayState } = await forged(browser, overrides);
      await assertRefused(stack, browser, await attempt(stack, browser, xml, relayState), { reason }, label);
    }
  });

  test('expired, and the clock skew is bounded (60 s): 30 s late is accepted, 90 s late is not', async () => {
    const late = (seconds: number): Partial<ForgeOptions> => ({
      now: Date.now() - 300_000 - seconds * 1000,
      validForSeconds: 300,
    });
    const browser = new TestBrowser();
    const expired = await forged(browser, late(90));
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, expired.xml, expired.relayState),
      { reason: 'expired' },
      '90 s late',
    );
    const longGone = await forged(browser, { now: Date.now() - 86_400_000 });
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, longGone.xml, longGone.relayState),
      { reason: 'expired' },
      'a day old',
    );
    const justLate = await forged(browser, late(30));
    assertAccepted(
      await attempt(stack, browser, justLate.xml, justLate.relayState),
      '30 s late, within the skew',
    );
  });

  test('a DOCTYPE (XXE) in the response is refused before anything reads it', async () => {
    const browser = new TestBrowser();
    const { xml, relayState } = await forged(browser);
    const withDoctype = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${xml.replace('>alice@example.com</saml:NameID>', '>&x;</saml:NameID>')}`;
    await assertRefused(
      stack,
      browser,
      await attempt(stack, browser, withDoctype, relayState),
      { reason: 'malformed' },
      'DOCTYPE',
    );
  });

  test('a response for another session’s request is refused (InResponseTo), and so is that session’s RelayState', async () => {
    const victim = new TestBrowser();
    const attacker = new TestBrowser();
    const { form } = await genuineResponse(stack, victim, 'alice');
    const attackerStart = await startSpLogin(stack, attacker);
    const xml = fromBase64(form.SAMLResponse);

    const withOwnState = await attempt(stack, attacker, xml, attackerStart.relayState);
    await assertRefused(stack, attacker, withOwnState, { reason: 'in-response-to' }, 'attacker RelayState');
    const withVictimState = await attempt(stack, attacker, xml, form.RelayState);
    await assertRefused(
      stack,
      attacker,
      withVictimState,
      { status: 400, code: 'PC_LOGIN_STATE_INVALID' },
      'victim RelayState',
    );
    const noState = await attempt(stack, attacker, xml, undefined);
    await assertRefused(
      stack,
      attacker,
      noState,
      { status: 400, code: 'PC_LOGIN_STATE_INVALID' },
      'no RelayState',
    );

    // The victim's own browser still completes with it: the refusals were about the binding only.
    assertAccepted(await attempt(stack, victim, xml, form.RelayState), 'victim');
  });

  test('replaying an SP-initiated response in the same browser finds no pending login', async () => {
    const browser = new TestBrowser();
    const { form } = await genuineResponse(stack, browser, 'bob');
    const xml = fromBase64(form.SAMLResponse);
    assertAccepted(await attempt(stack, browser, xml, form.RelayState), 'first use');
    const fresh = new TestBrowser();
    const replay = await attempt(stack, fresh, xml, form.RelayState);
    await assertRefused(stack, fresh, replay, { status: 400, code: 'PC_LOGIN_STATE_INVALID' }, 'replay');
  });
});

describe('SAML assertion replay (unsolicited responses)', { skip: samlSuiteSkip() }, () => {
  let suite: SamlSuite | undefined;
  let idp: SamlIdp;
  let stack: SamlStack;
  before(async () => {
    suite = await startSamlSuite({ provider: { allowIdpInitiated: true } });
    ({ idp, stack } = suite);
  });
  after(() => suite?.close());

  test('an assertion ID is accepted once per instance', async () => {
    const first = new TestBrowser();
    const form = await responseFromIdp(
      first,
      `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}`,
      'alice',
    );
    const xml = fromBase64(form.SAMLResponse);
    assertAccepted(await attempt(stack, first, xml, form.RelayState), 'first use');
    const second = new TestBrowser();
    await assertRefused(
      stack,
      second,
      await attempt(stack, second, xml, form.RelayState),
      { reason: 'replay' },
      'replay',
    );
  });
});

describe(
  'SAML assertion replay across replicas sharing Redis',
  { skip: samlSuiteSkip({ redis: true }) },
  () => {
    let suite: SamlSuite | undefined;
    let idp: SamlIdp;
    let stack: SamlStack;
    let replicaAcs: string;
    before(async () => {
      suite = await startSamlSuite({ redis: true, provider: { allowIdpInitiated: true } });
      ({ idp, stack } = suite);
      const replica = await stack.startReplica();
      replicaAcs = `http://localhost:${replica.gateway.port}${new URL(stack.acsUrl).pathname}`;
    });
    after(() => suite?.close());

    test('used on one replica, refused on the other', async () => {
      const browser = new TestBrowser();
      const form = await responseFromIdp(
        browser,
        `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}`,
        'alice',
      );
      const xml = fromBase64(form.SAMLResponse);
      assertAccepted(await attempt(stack, browser, xml, form.RelayState), 'first use on the first replica');

      const attacker = new TestBrowser();
      const replay = await attempt(stack, attacker, xml, form.RelayState, replicaAcs);
      await assertRefused(stack, attacker, replay, { reason: 'replay' }, 'replay on the second replica');

      // The second replica accepts a fresh response: it is the replay, not the replica, that is refused.
      const fresh = await responseFromIdp(
        browser,
        `${idp.ssoUrl}?spentityid=${encodeURIComponent(stack.entityId)}`,
        'alice',
      );
      assertAccepted(
        await attempt(stack, new TestBrowser(), fromBase64(fresh.SAMLResponse), fresh.RelayState, replicaAcs),
        'fresh on the second replica',
      );
    });
  },
);
