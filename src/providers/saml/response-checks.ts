// The gateway's own checks on a SAML login response, on top of samlify's (which verifies a signature,
// the status, the issuer and the time window only). Pure functions over a strictly parsed DOM; a
// signature's shape is checked in signature-shape.ts, and the cryptographic check of one given
// <ds:Signature> element is injected (samlify-adapter.ts).
//
// The rule that defeats signature wrapping (XSW1-8): the document must hold exactly one assertion, a
// direct child of the one Response; every ID in the document is unique; a <ds:Signature> may sit only
// directly in the Response or directly in the Assertion, never in ds:Object or anywhere else; the
// assertion's own signature has exactly one Reference whose URI is '#' + that assertion's ID, and it
// verifies with a certificate from the IdP's metadata. Everything identity-bearing is read from that
// very element. A signed Response alone is not enough: the assertion itself must be signed.
import type { SamlNameId } from '../../core/saml-session.js';
import {
  checkIssuer,
  parseSamlInstant,
  readNameId,
  STATUS_SUCCESS,
  type TrustedIdp,
} from './message-fields.js';
import type { SamlRejecter } from './saml-errors.js';
import {
  SAML_NS,
  allElements,
  attribute,
  childElements,
  childrenOf,
  hasCommentOrInstruction,
  is,
  isElement,
  textOnly,
} from './saml-xml.js';
import { checkKeyInfo, checkSignatureShape, type SignatureVerifier } from './signature-shape.js';
import type { XmlDocument, XmlElement } from './xml-dom.js';

const BEARER_METHOD = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** The attribute names xml-crypto resolves a Reference URI against; each value must be unique. */
const ID_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set(['ID', 'Id', 'id']);

/** Assertions valid for longer than this are refused: the replay cache must outlive every assertion it accepts. */
export const MAX_ASSERTION_VALIDITY_MS = 24 * 3_600_000;

export interface ResponseExpectations {
  idp: TrustedIdp;
  spEntityId: string;
  acsUrl: string;
  /** The AuthnRequest ID this browser's pending login holds; null for an unsolicited (IdP-initiated) response. */
  expectedRequestId: string | null;
  now: number;
  skewMs: number;
}

export interface VerifiedAssertion {
  readonly assertionId: string;
  readonly nameId: SamlNameId;
  readonly sessionIndex: string | null;
  /** Attribute Name → values, in document order; values that are not plain text are skipped. */
  readonly attributes: ReadonlyMap<string, readonly string[]>;
  /** Epoch ms after which the assertion is no longer accepted: its ID must stay in the replay cache until then. */
  readonly validUntil: number;
}

// ---------------------------------------------------------------------------------------------
// The response as it arrived (before any decryption)

/**
 * Checks the Response around the assertion: the wrapping-proof shape, the Response signature when
 * there is one (it must verify; a present but broken signature means tampering), Destination, Issuer,
 * status and InResponseTo. Returns whether the assertion is encrypted.
 */
export function checkResponseEnvelope(
  xml: string,
  doc: XmlDocument,
  expect: ResponseExpectations,
  verify: SignatureVerifier,
  reject: SamlRejecter,
): { encrypted: boolean } {
  const { response, assertion, encryptedAssertion } = responseShape(doc, reject);
  const responseId = requiredId(response, 'Response', reject);

  const signatures = childElements(response, SAML_NS.dsig, 'Signature');
  if (signatures.length > 1) throw reject('wrapping', 'more than one Signature on the Response');
  const responseSignature = signatures[0];
  if (responseSignature !== undefined) {
    checkSignatureShape(responseSignature, responseId, 'Response', reject);
    checkKeyInfo(responseSignature, expect.idp, reject);
    if (!verify(xml, responseSignature, expect.idp.signingCertificates)) {
      throw reject('signature', 'the Response signature does not verify with the IdP metadata certificate');
    }
  }

  const destination = attribute(response, 'Destination');
  if (destination !== expect.acsUrl) {
    throw reject(
      'destination',
      `Destination ${JSON.stringify(destination)} is not this ACS ${expect.acsUrl}`,
    );
  }
  const issuers = childElements(response, SAML_NS.assertion, 'Issuer');
  if (issuers.length > 1) throw reject('issuer', 'more than one Issuer on the Response');
  if (issuers[0] !== undefined) checkIssuer(issuers[0], expect.idp.entityId, 'Response', reject);
  checkStatus(response, reject);
  checkInResponseTo(attribute(response, 'InResponseTo'), expect.expectedRequestId, 'Response', reject);
  checkIssueInstant(response, expect, reject);

  if (assertion === null && encryptedAssertion === null) throw reject('malformed', 'no assertion');
  // Said early (samlify would only report "no valid signature"): a signed Response is not enough.
  if (assertion !== null && childElements(assertion, SAML_NS.dsig, 'Signature').length === 0) {
    throw reject('unsigned', 'the assertion is not signed');
  }
  return { encrypted: encryptedAssertion !== null };
}

// ---------------------------------------------------------------------------------------------
// The assertion (decrypted, when it arrived encrypted)

/** Checks the one assertion and reads the identity from it; throws via `reject` on any failure. */
export function checkAssertion(
  xml: string,
  doc: XmlDocument,
  expect: ResponseExpectations,
  verify: SignatureVerifier,
  reject: SamlRejecter,
): VerifiedAssertion {
  const { assertion, encryptedAssertion } = responseShape(doc, reject);
  if (encryptedAssertion !== null || assertion === null)
    throw reject('encryption', 'the assertion was not decrypted');
  if (attribute(assertion, 'Version') !== '2.0') throw reject('malformed', 'assertion Version is not 2.0');
  const assertionId = requiredId(assertion, 'Assertion', reject);
  // Canonicalisation drops comments, so the signature cannot vouch for them: a comment inside a
  // signed assertion was put there after signing, the classic way to truncate a NameID.
  if (hasCommentOrInstruction(assertion))
    throw reject('comment', 'comment or processing instruction inside the assertion');

  const signatures = childElements(assertion, SAML_NS.dsig, 'Signature');
  if (signatures.length === 0) throw reject('unsigned', 'the assertion is not signed');
  if (signatures.length > 1) throw reject('wrapping', 'more than one Signature on the assertion');
  const signature = signatures[0] as XmlElement;
  checkSignatureShape(signature, assertionId, 'Assertion', reject);
  checkKeyInfo(signature, expect.idp, reject);
  if (!verify(xml, signature, expect.idp.signingCertificates)) {
    throw reject('signature', 'the assertion signature does not verify with the IdP metadata certificate');
  }

  const issuer = exactlyOne(assertion, SAML_NS.assertion, 'Issuer', 'Assertion', reject);
  checkIssuer(issuer, expect.idp.entityId, 'Assertion', reject);
  checkIssueInstant(assertion, expect, reject);

  const subject = exactlyOne(assertion, SAML_NS.assertion, 'Subject', 'Assertion', reject);
  const nameId = readNameId(subject, 'Subject', reject);
  const confirmedUntil = checkSubjectConfirmation(subject, expect, reject);
  const conditionsUntil = checkConditions(assertion, expect, reject);
  const validUntil = Math.min(confirmedUntil, conditionsUntil ?? Infinity);
  if (validUntil - expect.now > MAX_ASSERTION_VALIDITY_MS) {
    throw reject('unsupported', 'assertion valid for more than 24 hours');
  }
  const sessionIndex = checkAuthnStatement(assertion, expect, reject);

  return { assertionId, nameId, sessionIndex, attributes: readAttributes(assertion), validUntil };
}

// ---------------------------------------------------------------------------------------------
// Shape: one Response, one assertion, unique IDs, signatures only where they belong

function responseShape(
  doc: XmlDocument,
  reject: SamlRejecter,
): { response: XmlElement; assertion: XmlElement | null; encryptedAssertion: XmlElement | null } {
  const response = doc.documentElement;
  if (response === null || !is(response, SAML_NS.protocol, 'Response')) {
    throw reject('malformed', 'root element is not samlp:Response');
  }
  if (attribute(response, 'Version') !== '2.0') throw reject('malformed', 'Response Version is not 2.0');
  const elements = allElements(doc);
  assertUniqueIds(elements, reject);

  // Counted by local name in any namespace: a copy in another namespace or hidden in Extensions,
  // ds:Object or SubjectConfirmationData is still a second assertion (XSW1-8 all need one).
  const responses = elements.filter((el) => el.localName === 'Response');
  if (responses.length !== 1) throw reject('wrapping', `${responses.length} Response elements`);
  const assertions = elements.filter(
    (el) => el.localName === 'Assertion' || el.localName === 'EncryptedAssertion',
  );
  if (assertions.length !== 1)
    throw reject('wrapping', `${assertions.length} assertions (exactly one is accepted)`);
  const only = assertions[0] as XmlElement;
  if (only.parentNode !== response)
    throw reject('wrapping', 'the assertion is not a direct child of the Response');
  const assertion = is(only, SAML_NS.assertion, 'Assertion') ? only : null;
  const encryptedAssertion = is(only, SAML_NS.assertion, 'EncryptedAssertion') ? only : null;
  if (assertion === null && encryptedAssertion === null)
    throw reject('wrapping', 'assertion in a foreign namespace');

  for (const signature of elements.filter((el) => is(el, SAML_NS.dsig, 'Signature'))) {
    const parent = signature.parentNode;
    if (parent !== response && (assertion === null || parent !== assertion)) {
      throw reject(
        'wrapping',
        `a Signature inside ${parent !== null && isElement(parent) ? parent.localName : 'nothing'}`,
      );
    }
  }
  return { response, assertion, encryptedAssertion };
}

function assertUniqueIds(elements: readonly XmlElement[], reject: SamlRejecter): void {
  const seen = new Set<string>();
  for (const element of elements) {
    for (const attr of Array.from(element.attributes)) {
      const name = attr.localName ?? attr.name;
      if (!ID_ATTRIBUTE_NAMES.has(name)) continue;
      if (seen.has(attr.value)) throw reject('wrapping', `ID ${JSON.stringify(attr.value)} appears twice`);
      seen.add(attr.value);
    }
  }
}

function requiredId(element: XmlElement, what: string, reject: SamlRejecter): string {
  const id = attribute(element, 'ID');
  // xs:ID is an NCName; quotes or spaces would also break the reference lookup.
  if (id === null || !/^[A-Za-z_][\w.-]*$/.test(id)) throw reject('malformed', `${what} has no valid ID`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Fields

function exactlyOne(
  parent: XmlElement,
  namespace: string,
  localName: string,
  what: string,
  reject: SamlRejecter,
): XmlElement {
  const found = childElements(parent, namespace, localName);
  if (found.length !== 1)
    throw reject('malformed', `${what} must have exactly one ${localName}, has ${found.length}`);
  return found[0] as XmlElement;
}

function checkStatus(response: XmlElement, reject: SamlRejecter): void {
  const status = childElements(response, SAML_NS.protocol, 'Status')[0];
  const code = status === undefined ? undefined : childElements(status, SAML_NS.protocol, 'StatusCode')[0];
  const value = code === undefined ? null : attribute(code, 'Value');
  if (value !== STATUS_SUCCESS) throw reject('status', `status ${value ?? '(none)'}`);
}

/** The signed SubjectConfirmationData decides; an unsigned Response's InResponseTo must not contradict it. */
function checkInResponseTo(
  value: string | null,
  expected: string | null,
  what: string,
  reject: SamlRejecter,
): void {
  if (expected === null) {
    if (value !== null)
      throw reject('in-response-to', `${what} answers request ${value}, which this browser did not make`);
    return;
  }
  if (value !== null && value !== expected) {
    throw reject('in-response-to', `${what} answers request ${value}, not this browser's ${expected}`);
  }
}

function checkIssueInstant(element: XmlElement, expect: ResponseExpectations, reject: SamlRejecter): void {
  const issued = parseSamlInstant(
    attribute(element, 'IssueInstant'),
    `${element.localName} IssueInstant`,
    reject,
  );
  if (issued === null) throw reject('malformed', `${element.localName} has no IssueInstant`);
  if (issued > expect.now + expect.skewMs)
    throw reject('not-yet-valid', `${element.localName} issued in the future`);
}

function checkWindow(
  element: XmlElement,
  what: string,
  expect: ResponseExpectations,
  reject: SamlRejecter,
): { notOnOrAfter: number | null } {
  const notBefore = parseSamlInstant(attribute(element, 'NotBefore'), `${what} NotBefore`, reject);
  const notOnOrAfter = parseSamlInstant(attribute(element, 'NotOnOrAfter'), `${what} NotOnOrAfter`, reject);
  if (notBefore !== null && expect.now + expect.skewMs < notBefore)
    throw reject('not-yet-valid', `${what} NotBefore is in the future`);
  if (notOnOrAfter !== null && expect.now - expect.skewMs >= notOnOrAfter)
    throw reject('expired', `${what} NotOnOrAfter has passed`);
  return { notOnOrAfter };
}

/**
 * At least one bearer SubjectConfirmation whose data names this ACS as Recipient, is within its
 * window and answers this browser's request (saml-profiles §4.1.4.3). Returns its NotOnOrAfter.
 */
function checkSubjectConfirmation(
  subject: XmlElement,
  expect: ResponseExpectations,
  reject: SamlRejecter,
): number {
  const bearers = childElements(subject, SAML_NS.assertion, 'SubjectConfirmation').filter(
    (confirmation) => attribute(confirmation, 'Method') === BEARER_METHOD,
  );
  if (bearers.length === 0) throw reject('subject', 'no bearer SubjectConfirmation');
  let firstFailure: Error | undefined;
  for (const bearer of bearers) {
    try {
      const data = exactlyOne(
        bearer,
        SAML_NS.assertion,
        'SubjectConfirmationData',
        'SubjectConfirmation',
        reject,
      );
      const recipient = attribute(data, 'Recipient');
      if (recipient !== expect.acsUrl) {
        throw reject('recipient', `Recipient ${JSON.stringify(recipient)} is not this ACS ${expect.acsUrl}`);
      }
      const { notOnOrAfter } = checkWindow(data, 'SubjectConfirmationData', expect, reject);
      if (notOnOrAfter === null) throw reject('malformed', 'SubjectConfirmationData has no NotOnOrAfter');
      const inResponseTo = attribute(data, 'InResponseTo');
      if (expect.expectedRequestId !== null && inResponseTo === null) {
        throw reject('in-response-to', 'the assertion answers no request, but this browser made one');
      }
      checkInResponseTo(inResponseTo, expect.expectedRequestId, 'SubjectConfirmationData', reject);
      return notOnOrAfter;
    } catch (err) {
      firstFailure ??= err as Error;
    }
  }
  throw firstFailure as Error;
}

/** Conditions are required; unknown condition types make the assertion invalid (saml-core §2.5.1.1). */
function checkConditions(
  assertion: XmlElement,
  expect: ResponseExpectations,
  reject: SamlRejecter,
): number | null {
  const conditions = exactlyOne(assertion, SAML_NS.assertion, 'Conditions', 'Assertion', reject);
  const { notOnOrAfter } = checkWindow(conditions, 'Conditions', expect, reject);
  const restrictions: XmlElement[] = [];
  for (const child of childrenOf(conditions).filter(isElement)) {
    if (is(child, SAML_NS.assertion, 'AudienceRestriction')) restrictions.push(child);
    else if (
      !is(child, SAML_NS.assertion, 'OneTimeUse') &&
      !is(child, SAML_NS.assertion, 'ProxyRestriction')
    ) {
      throw reject('unsupported', `unknown condition ${child.localName}`);
    }
  }
  if (restrictions.length === 0) throw reject('audience', 'no AudienceRestriction');
  // Several AudienceRestriction elements must all be met; within one, any Audience will do.
  for (const restriction of restrictions) {
    const audiences = childElements(restriction, SAML_NS.assertion, 'Audience').map((a) =>
      textOnly(a)?.trim(),
    );
    if (!audiences.includes(expect.spEntityId)) {
      throw reject('audience', `audience ${JSON.stringify(audiences)} does not include ${expect.spEntityId}`);
    }
  }
  return notOnOrAfter;
}

function checkAuthnStatement(
  assertion: XmlElement,
  expect: ResponseExpectations,
  reject: SamlRejecter,
): string | null {
  const statements = childElements(assertion, SAML_NS.assertion, 'AuthnStatement');
  if (statements.length === 0) throw reject('malformed', 'no AuthnStatement');
  const first = statements[0] as XmlElement;
  const sessionEnd = parseSamlInstant(attribute(first, 'SessionNotOnOrAfter'), 'SessionNotOnOrAfter', reject);
  if (sessionEnd !== null && expect.now - expect.skewMs >= sessionEnd)
    throw reject('expired', 'the IdP session has ended');
  return attribute(first, 'SessionIndex');
}

function readAttributes(assertion: XmlElement): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const statement of childElements(assertion, SAML_NS.assertion, 'AttributeStatement')) {
    for (const element of childElements(statement, SAML_NS.assertion, 'Attribute')) {
      const name = attribute(element, 'Name');
      if (name === null) continue;
      const values = attributes.get(name) ?? [];
      for (const valueElement of childElements(element, SAML_NS.assertion, 'AttributeValue')) {
        if (valueElement.getAttributeNS(SAML_NS.xsi, 'nil') === 'true') continue;
        const value = textOnly(valueElement);
        if (value !== null) values.push(value.trim());
      }
      attributes.set(name, values);
    }
  }
  return attributes;
}
