// The gateway's own checks on single-logout messages from the IdP (HTTP-Redirect binding), on top of
// samlify's. The detached signature over the query is verified separately (redirect-binding.ts); an
// XML signature inside a redirect-bound message is not what was verified, so it is refused.
import type { SamlLogoutRequest } from '../saml-endpoints.js';
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
  hasCommentOrInstruction,
  is,
  textOnly,
} from './saml-xml.js';
import type { XmlDocument, XmlElement } from './xml-dom.js';

/** A LogoutRequest without NotOnOrAfter is accepted this long after its IssueInstant; its ID is remembered as long. */
export const LOGOUT_REQUEST_MAX_AGE_MS = 10 * 60_000;

export interface LogoutExpectations {
  idp: TrustedIdp;
  sloUrl: string;
  now: number;
  skewMs: number;
}

export function checkLogoutRequest(
  doc: XmlDocument,
  expect: LogoutExpectations,
  reject: SamlRejecter,
): SamlLogoutRequest {
  const root = rootNamed(doc, 'LogoutRequest', reject);
  const id = commonChecks(doc, root, expect, reject);
  const issued = parseSamlInstant(attribute(root, 'IssueInstant'), 'IssueInstant', reject) as number;
  if (expect.now - expect.skewMs - LOGOUT_REQUEST_MAX_AGE_MS > issued)
    throw reject('expired', 'LogoutRequest issued too long ago');
  const notOnOrAfter = parseSamlInstant(attribute(root, 'NotOnOrAfter'), 'NotOnOrAfter', reject);
  if (notOnOrAfter !== null && expect.now - expect.skewMs >= notOnOrAfter)
    throw reject('expired', 'LogoutRequest NotOnOrAfter has passed');

  const nameId = readNameId(root, 'LogoutRequest', reject);
  const sessionIndexes = childElements(root, SAML_NS.protocol, 'SessionIndex').map((element) => {
    const index = textOnly(element)?.trim() ?? '';
    if (index === '') throw reject('malformed', 'empty SessionIndex');
    return index;
  });
  return {
    id,
    nameId,
    sessionIndexes,
    validUntil: Math.min(notOnOrAfter ?? Infinity, issued + LOGOUT_REQUEST_MAX_AGE_MS) + expect.skewMs,
  };
}

/** The IdP's answer to an SP-initiated LogoutRequest: true when it reports success. */
export function checkLogoutResponse(
  doc: XmlDocument,
  expect: LogoutExpectations,
  reject: SamlRejecter,
): boolean {
  const root = rootNamed(doc, 'LogoutResponse', reject);
  commonChecks(doc, root, expect, reject);
  const status = childElements(root, SAML_NS.protocol, 'Status')[0];
  const code = status === undefined ? undefined : childElements(status, SAML_NS.protocol, 'StatusCode')[0];
  return code !== undefined && attribute(code, 'Value') === STATUS_SUCCESS;
}

function rootNamed(doc: XmlDocument, localName: string, reject: SamlRejecter): XmlElement {
  const root = doc.documentElement;
  if (root === null || !is(root, SAML_NS.protocol, localName))
    throw reject('malformed', `root element is not samlp:${localName}`);
  return root;
}

function commonChecks(
  doc: XmlDocument,
  root: XmlElement,
  expect: LogoutExpectations,
  reject: SamlRejecter,
): string {
  if (attribute(root, 'Version') !== '2.0') throw reject('malformed', 'Version is not 2.0');
  const id = attribute(root, 'ID');
  if (id === null || !/^[A-Za-z_][\w.-]*$/.test(id)) throw reject('malformed', 'no valid ID');
  if (hasCommentOrInstruction(root))
    throw reject('comment', 'comment or processing instruction inside the message');
  if (allElements(doc).some((element) => is(element, SAML_NS.dsig, 'Signature'))) {
    throw reject('wrapping', 'an XML signature inside a redirect-bound message');
  }
  const destination = attribute(root, 'Destination');
  if (destination !== expect.sloUrl) {
    throw reject(
      'destination',
      `Destination ${JSON.stringify(destination)} is not this SLO endpoint ${expect.sloUrl}`,
    );
  }
  const issuers = childElements(root, SAML_NS.assertion, 'Issuer');
  if (issuers.length !== 1) throw reject('issuer', `${issuers.length} Issuer elements`);
  checkIssuer(issuers[0] as XmlElement, expect.idp.entityId, root.localName, reject);
  const issued = parseSamlInstant(attribute(root, 'IssueInstant'), 'IssueInstant', reject);
  if (issued === null) throw reject('malformed', 'no IssueInstant');
  if (issued > expect.now + expect.skewMs) throw reject('not-yet-valid', 'issued in the future');
  return id;
}
