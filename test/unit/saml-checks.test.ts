// The gateway's own SAML checks, without an IdP process: strict parsing, the response and assertion
// checks (signature wrapping, signatures, audience, recipient, destination, time, InResponseTo,
// comments), logout message checks, the HTTP-Redirect binding's detached signature, and reading IdP
// metadata. Responses are built and signed here with the test IdP key, exactly as an IdP would.
import assert from 'node:assert/strict';
import { sign as signBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { readIdpMetadata } from '../../src/providers/saml/idp-metadata.js';
import { checkLogoutRequest, LOGOUT_REQUEST_MAX_AGE_MS } from '../../src/providers/saml/logout-checks.js';
import { readRedirectMessage, verifyRedirectSignature } from '../../src/providers/saml/redirect-binding.js';
import {
  checkAssertion,
  checkResponseEnvelope,
  type ResponseExpectations,
  type VerifiedAssertion,
} from '../../src/providers/saml/response-checks.js';
import { normaliseCertificate } from '../../src/providers/saml/signature-shape.js';
import {
  rejectLogout,
  rejectResponse,
  SamlLogoutRejected,
  SamlResponseRejected,
} from '../../src/providers/saml/saml-errors.js';
import { allElements, parseStrictXml, SamlXmlError, textOnly } from '../../src/providers/saml/saml-xml.js';
import type { XmlElement } from '../../src/providers/saml/xml-dom.js';
import { verifyXmlSignature } from '../../src/providers/saml/samlify-adapter.js';
import { SamlSchemaError, validateSamlXml } from '../../src/providers/saml/schema-validator.js';
import {
  ATTACKER_KEY,
  first,
  forgeResponseXml,
  IDP_KEY,
  mutate,
  NS,
  ownSignature,
  sign,
  type ForgeOptions,
  type MElement,
  type XswVariant,
  xsw,
} from '../support/saml-forge.js';

const IDP_ENTITY = 'https://idp.example.org/metadata';
const SP_ENTITY = 'https://apps.example.com/.portcullis/saml/corp/metadata';
const ACS = 'https://apps.example.com/.portcullis/saml/corp/acs';
const SLO = 'https://apps.example.com/.portcullis/saml/corp/slo';
const REQUEST_ID = '_0123456789abcdef0123456789abcdef';
const IDP_CERT = normaliseCertificate(IDP_KEY.cert);

function expectations(overrides: Partial<ResponseExpectations> = {}): ResponseExpectations {
  return {
    idp: { entityId: IDP_ENTITY, signingCertificates: [IDP_CERT] },
    spEntityId: SP_ENTITY,
    acsUrl: ACS,
    expectedRequestId: REQUEST_ID,
    now: Date.now(),
    skewMs: 60_000,
    ...overrides,
  };
}

function response(overrides: Partial<ForgeOptions> = {}): string {
  return forgeResponseXml({
    idpEntityId: IDP_ENTITY,
    spEntityId: SP_ENTITY,
    acsUrl: ACS,
    inResponseTo: REQUEST_ID,
    nameId: 'alice@example.com',
    attributes: { uid: ['alice'], groups: ['eng', 'ops'] },
    ...overrides,
  });
}

/** Signed like SimpleSAMLphp: the assertion, then the Response around it. */
function signedResponse(overrides: Partial<ForgeOptions> = {}): string {
  return sign(sign(response(overrides), 'Assertion', IDP_KEY), 'Response', IDP_KEY);
}

/** Both check stages, as the provider runs them on an unencrypted response. */
function check(xml: string, overrides: Partial<ResponseExpectations> = {}): VerifiedAssertion {
  const doc = parseStrictXml(xml);
  const expect = expectations(overrides);
  checkResponseEnvelope(xml, doc, expect, verifyXmlSignature, rejectResponse);
  return checkAssertion(xml, doc, expect, verifyXmlSignature, rejectResponse);
}

function refusedFor(reason: string) {
  return (err: unknown): true => {
    assert.ok(err instanceof SamlResponseRejected, `expected SamlResponseRejected, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.equal(err.code, 'PC_LOGIN_REJECTED');
    return true;
  };
}

describe('strict XML parsing', () => {
  test('refuses DOCTYPE and ENTITY declarations, processing instructions and malformed XML', () => {
    for (const xml of [
      '<!DOCTYPE r><r/>',
      '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
      '<r><!ENTITY x "y"></r>',
      '<?xml-stylesheet href="x"?><r/>',
      '<r><a></r>',
      '<r>&undefined;</r>',
      '',
    ]) {
      assert.throws(() => parseStrictXml(xml), SamlXmlError, xml);
    }
    assert.equal(
      parseStrictXml('<?xml version="1.0" encoding="UTF-8"?>\n<r a="1"/>').documentElement?.localName,
      'r',
    );
  });

  test('text is read whole: a comment makes an element unreadable rather than truncating it', () => {
    const doc = parseStrictXml(
      '<r><a>alice@example.com<!---->.evil.com</a><b>x<![CDATA[y]]>z</b><c>p<d/>q</c></r>',
    );
    const element = (name: string) => allElements(doc).find((el) => el.localName === name) as XmlElement;
    assert.equal(textOnly(element('a')), null, 'a comment inside is not skipped over');
    assert.equal(textOnly(element('b')), 'xyz', 'text and CDATA are joined');
    assert.equal(textOnly(element('c')), null, 'an element inside is not plain text');
  });
});

describe('response and assertion checks', () => {
  test('an honest signed response yields the NameID, SessionIndex, attributes and validity from the signed assertion', () => {
    const now = Date.now();
    const verified = check(signedResponse({ now }), { now });
    assert.equal(verified.nameId.value, 'alice@example.com');
    assert.equal(verified.nameId.format, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.equal(verified.nameId.spNameQualifier, SP_ENTITY);
    assert.match(verified.sessionIndex ?? '', /^_[0-9a-f]{32}$/);
    assert.deepEqual(verified.attributes.get('groups'), ['eng', 'ops']);
    assert.equal(verified.validUntil, Math.floor((now + 300_000) / 1000) * 1000);
    // A response signed on the assertion only is fine too.
    check(sign(response(), 'Assertion', IDP_KEY));
  });

  for (const variant of [1, 2, 3, 4, 5, 6, 7, 8] as XswVariant[]) {
    test(`XSW${variant} is refused as wrapping`, () => {
      const wrapped = xsw(variant, signedResponse({ nameId: 'mallory@example.com' }), 'alice@example.com');
      assert.throws(() => check(wrapped), refusedFor('wrapping'));
    });
  }

  test('duplicate IDs and a signature referencing another element are wrapping', () => {
    const duplicated = mutate(signedResponse(), (doc) => {
      const subject = first(doc, 'Subject', NS.assertion);
      subject.setAttribute('ID', first(doc, 'Assertion', NS.assertion).getAttribute('ID') ?? '');
    });
    assert.throws(() => check(duplicated), refusedFor('wrapping'));
    const elsewhere = mutate(sign(response(), 'Assertion', IDP_KEY), (doc) => {
      const reference = first(
        ownSignature(first(doc, 'Assertion', NS.assertion)) as MElement,
        'Reference',
        NS.dsig,
      );
      reference.setAttribute('URI', '#_somewhere_else');
    });
    assert.throws(() => check(elsewhere), refusedFor('wrapping'));
  });

  test('unsigned assertions are refused, even inside a validly signed Response', () => {
    assert.throws(() => check(response()), refusedFor('unsigned'));
    assert.throws(() => check(sign(response(), 'Response', IDP_KEY)), refusedFor('unsigned'));
  });

  test('a foreign key is refused, in KeyInfo or not; a tampered assertion does not verify', () => {
    assert.throws(() => check(sign(response(), 'Assertion', ATTACKER_KEY)), refusedFor('signature'));
    const noKeyInfo = mutate(sign(response(), 'Assertion', ATTACKER_KEY), (doc) => {
      const keyInfo = first(doc, 'KeyInfo', NS.dsig);
      (keyInfo.parentNode as MElement).removeChild(keyInfo);
    });
    assert.throws(() => check(noKeyInfo), refusedFor('signature'));
    const tampered = mutate(sign(response(), 'Assertion', IDP_KEY), (doc) => {
      first(doc, 'NameID', NS.assertion).textContent = 'root@example.com';
    });
    assert.throws(() => check(tampered), refusedFor('signature'));
    // A broken Response signature is refused even when the assertion's own signature is fine.
    const brokenOuter = mutate(signedResponse(), (doc) => {
      doc.documentElement.setAttribute('IssueInstant', new Date(Date.now() - 1000).toISOString());
    });
    assert.throws(() => check(brokenOuter), refusedFor('signature'));
  });

  test('SHA-1 signatures are refused', () => {
    const sha1 = sign(response(), 'Assertion', IDP_KEY, {
      signature: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
      digest: 'http://www.w3.org/2000/09/xmldsig#sha1',
    });
    assert.throws(() => check(sha1), refusedFor('unsupported'));
  });

  test('a comment in the NameID is refused although the signature still verifies', () => {
    const signed = sign(response({ nameId: 'alice@example.com.evil.com' }), 'Assertion', IDP_KEY);
    const injected = signed.replace('>alice@example.com.evil.com<', '>alice@example.com<!---->.evil.com<');
    assert.notEqual(injected, signed);
    const doc = parseStrictXml(injected);
    const assertion = allElements(doc).find((el) => el.localName === 'Assertion') as XmlElement;
    const signature = allElements(doc).find(
      (el) => el.localName === 'Signature' && el.parentNode === assertion,
    ) as XmlElement;
    assert.equal(
      verifyXmlSignature(injected, signature, [IDP_CERT]),
      true,
      'canonicalisation ignores the comment',
    );
    assert.throws(() => check(injected), refusedFor('comment'));
  });

  test('a NameID holding a control character is refused, although the signature verifies', () => {
    for (const nameId of ['alice\n@example.com', 'alice\t@example.com', 'alice\u007f@example.com']) {
      assert.throws(() => check(signedResponse({ nameId })), refusedFor('subject'), JSON.stringify(nameId));
    }
    assert.equal(check(signedResponse({ nameId: ' alice@example.com\n' })).nameId.value, 'alice@example.com');
  });

  test('audience, recipient and destination must name this SP', () => {
    assert.throws(
      () => check(signedResponse({ audience: 'https://other.example/sp' })),
      refusedFor('audience'),
    );
    assert.throws(
      () => check(signedResponse({ recipient: 'https://other.example/acs' })),
      refusedFor('recipient'),
    );
    assert.throws(
      () => check(signedResponse({ destination: 'https://other.example/acs' })),
      refusedFor('destination'),
    );
    // Every AudienceRestriction must be met, not just one of them.
    const extraRestriction = response().replace(
      '</saml:Conditions>',
      '<saml:AudienceRestriction><saml:Audience>https://other.example/sp</saml:Audience></saml:AudienceRestriction></saml:Conditions>',
    );
    assert.throws(() => check(sign(extraRestriction, 'Assertion', IDP_KEY)), refusedFor('audience'));
  });

  test('InResponseTo: must answer this browser’s request; absent only when an unsolicited response is expected', () => {
    assert.throws(
      () => check(signedResponse({ inResponseTo: '_another_request' })),
      refusedFor('in-response-to'),
    );
    assert.throws(() => check(signedResponse({ inResponseTo: null })), refusedFor('in-response-to'));
    assert.throws(() => check(signedResponse(), { expectedRequestId: null }), refusedFor('in-response-to'));
    check(signedResponse({ inResponseTo: null }), { expectedRequestId: null });
  });

  test('the time window, with a bounded skew', () => {
    const now = Date.now();
    const validUntil = (secondsAgo: number) => signedResponse({ now: now - 300_000 - secondsAgo * 1000 });
    check(validUntil(30), { now });
    assert.throws(() => check(validUntil(61), { now }), refusedFor('expired'));
    assert.throws(() => check(validUntil(1), { now, skewMs: 0 }), refusedFor('expired'));
    assert.throws(() => check(signedResponse({ now: now + 120_000 }), { now }), refusedFor('not-yet-valid'));
    assert.throws(() => check(signedResponse({ validForSeconds: 2 * 86_400 })), refusedFor('unsupported'));
  });

  test('an error status, unknown conditions and a wrong issuer are refused', () => {
    assert.throws(
      () => check(signedResponse({ status: 'urn:oasis:names:tc:SAML:2.0:status:Requester' })),
      refusedFor('status'),
    );
    const condition = sign(
      response().replace(
        '</saml:Conditions>',
        '<saml:Condition xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x:Custom"/></saml:Conditions>',
      ),
      'Assertion',
      IDP_KEY,
    );
    assert.throws(() => check(condition), refusedFor('unsupported'));
    assert.throws(
      () => check(signedResponse({ idpEntityId: 'https://evil.example/idp' })),
      refusedFor('issuer'),
    );
  });
});

describe('LogoutRequest checks', () => {
  const logoutRequest = (
    overrides: {
      destination?: string;
      issuer?: string;
      issued?: number;
      nameId?: string;
      extra?: string;
    } = {},
  ) =>
    parseStrictXml(
      `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="_lr1" Version="2.0"` +
        ` IssueInstant="${new Date(overrides.issued ?? Date.now()).toISOString()}" Destination="${overrides.destination ?? SLO}">` +
        `<saml:Issuer>${overrides.issuer ?? IDP_ENTITY}</saml:Issuer>` +
        `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${overrides.nameId ?? 'alice@example.com'}</saml:NameID>` +
        `<samlp:SessionIndex>_s1</samlp:SessionIndex>${overrides.extra ?? ''}</samlp:LogoutRequest>`,
    );
  const expect = () => ({
    idp: { entityId: IDP_ENTITY, signingCertificates: [IDP_CERT] },
    sloUrl: SLO,
    now: Date.now(),
    skewMs: 60_000,
  });
  const refused = (reason: string) => (err: unknown) =>
    err instanceof SamlLogoutRejected && err.reason === reason;

  test('reads the subject and session indexes of an honest request', () => {
    const request = checkLogoutRequest(logoutRequest(), expect(), rejectLogout);
    assert.equal(request.id, '_lr1');
    assert.equal(request.nameId.value, 'alice@example.com');
    assert.deepEqual(request.sessionIndexes, ['_s1']);
  });

  test('refuses a NameID holding a control character, as login responses do (one NameID reader)', () => {
    for (const nameId of ['alice&#10;@example.com', 'alice\t@example.com', 'alice\u007f@example.com']) {
      assert.throws(
        () => checkLogoutRequest(logoutRequest({ nameId }), expect(), rejectLogout),
        refused('subject'),
        JSON.stringify(nameId),
      );
    }
    assert.throws(
      () => checkLogoutRequest(logoutRequest({ nameId: '  ' }), expect(), rejectLogout),
      refused('subject'),
    );
  });

  test('refuses a wrong destination or issuer, an old request, and an embedded signature', () => {
    assert.throws(
      () => checkLogoutRequest(logoutRequest({ destination: 'https://x/slo' }), expect(), rejectLogout),
      refused('destination'),
    );
    assert.throws(
      () => checkLogoutRequest(logoutRequest({ issuer: 'https://evil/' }), expect(), rejectLogout),
      refused('issuer'),
    );
    assert.throws(
      () =>
        checkLogoutRequest(
          logoutRequest({ issued: Date.now() - LOGOUT_REQUEST_MAX_AGE_MS - 120_000 }),
          expect(),
          rejectLogout,
        ),
      refused('expired'),
    );
    assert.throws(
      () =>
        checkLogoutRequest(
          logoutRequest({ extra: `<ds:Signature xmlns:ds="${NS.dsig}"/>` }),
          expect(),
          rejectLogout,
        ),
      refused('wrapping'),
    );
  });
});

describe('HTTP-Redirect binding', () => {
  const encode = encodeURIComponent;
  const deflated = (xml: string) => deflateRawSync(Buffer.from(xml)).toString('base64');
  const signedQuery = (xml: string, key: string, relayState = 'rs 1') => {
    const sigAlg = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
    const octets = `SAMLRequest=${encode(deflated(xml))}&RelayState=${encode(relayState)}&SigAlg=${encode(sigAlg)}`;
    return `${octets}&Signature=${encode(signBytes('sha256', Buffer.from(octets), key).toString('base64'))}`;
  };

  test('verifies the detached signature over the octets as sent, with the IdP certificate only', () => {
    const query = signedQuery('<samlp:LogoutRequest/>', IDP_KEY.key);
    const message = readRedirectMessage(query, rejectLogout);
    assert.equal(message.xml, '<samlp:LogoutRequest/>');
    assert.equal(message.relayState, 'rs 1');
    assert.equal(verifyRedirectSignature(message, [IDP_CERT], rejectLogout), true);
    const forged = readRedirectMessage(signedQuery('<samlp:LogoutRequest/>', ATTACKER_KEY.key), rejectLogout);
    assert.equal(verifyRedirectSignature(forged, [IDP_CERT], rejectLogout), false);
    const swapped = readRedirectMessage(query.replace(encode('rs 1'), encode('rs 2')), rejectLogout);
    assert.equal(
      verifyRedirectSignature(swapped, [IDP_CERT], rejectLogout),
      false,
      'RelayState is signed too',
    );
  });

  test('refuses duplicated parameters, unsigned messages and SHA-1', () => {
    const query = signedQuery('<x/>', IDP_KEY.key);
    assert.throws(() => readRedirectMessage(`${query}&SAMLRequest=abc`, rejectLogout), SamlLogoutRejected);
    const unsigned = readRedirectMessage(`SAMLRequest=${encode(deflated('<x/>'))}`, rejectLogout);
    assert.throws(
      () => verifyRedirectSignature(unsigned, [IDP_CERT], rejectLogout),
      (err: unknown) => err instanceof SamlLogoutRejected && err.reason === 'unsigned',
    );
    const sha1 = readRedirectMessage(
      query.replace(
        encode('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'),
        encode('http://www.w3.org/2000/09/xmldsig#rsa-sha1'),
      ),
      rejectLogout,
    );
    assert.throws(
      () => verifyRedirectSignature(sha1, [IDP_CERT], rejectLogout),
      (err: unknown) => err instanceof SamlLogoutRejected && err.reason === 'unsupported',
    );
  });
});

describe('IdP metadata', () => {
  const descriptor = (entityId: string, keyUse: string | null, extra = '') =>
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor${keyUse === null ? '' : ` use="${keyUse}"`}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${IDP_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/slo"/>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>${extra}` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`;

  test('reads entity ID, signing certificates (use="signing" or none) and Redirect endpoints', () => {
    for (const use of ['signing', null]) {
      const idp = readIdpMetadata(descriptor(IDP_ENTITY, use));
      assert.equal(idp.entityId, IDP_ENTITY);
      assert.deepEqual(idp.signingCertificates, [IDP_CERT]);
      assert.equal(idp.ssoRedirectUrl, 'https://idp.example.org/sso');
      assert.equal(idp.sloRedirectUrl, 'https://idp.example.org/slo');
    }
    assert.throws(() => readIdpMetadata(descriptor(IDP_ENTITY, 'encryption')), /no signing certificate/);
  });

  test('an aggregate needs idpEntityId to pick one IdP; DOCTYPE is refused', () => {
    const aggregate = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${descriptor('https://a.example/', 'signing')}${descriptor('https://b.example/', 'signing')}</md:EntitiesDescriptor>`;
    assert.throws(() => readIdpMetadata(aggregate), /set idpEntityId/);
    assert.equal(readIdpMetadata(aggregate, 'https://b.example/').entityId, 'https://b.example/');
    assert.throws(() => readIdpMetadata(`<!DOCTYPE x>${descriptor(IDP_ENTITY, 'signing')}`), /DOCTYPE/);
  });
});

describe('schema validation (xmllint-wasm, SAML 2.0 XSDs)', () => {
  test('accepts a valid response, refuses an invalid one and any DOCTYPE', async () => {
    assert.equal(await validateSamlXml(signedResponse()), 'valid');
    const invalid = response().replace('<saml:Subject>', '<saml:Bogus/><saml:Subject>');
    await assert.rejects(validateSamlXml(invalid), SamlSchemaError);
    await assert.rejects(validateSamlXml(`<!DOCTYPE r>${response()}`), SamlSchemaError);
  });
});
