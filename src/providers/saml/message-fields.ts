// What login responses and logout messages read alike: the Issuer, SAML instants, the NameID, and the
// success status. One reader each, so both message kinds refuse the same things.
import type { SamlNameId } from '../../core/saml-session.js';
import type { SamlRejecter } from './saml-errors.js';
import { SAML_NS, attribute, childElements, textOnly } from './saml-xml.js';
import type { XmlElement } from './xml-dom.js';

export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';

export interface TrustedIdp {
  entityId: string;
  /** Base64 DER bodies of the signing certificates the IdP's metadata lists. */
  signingCertificates: readonly string[];
}

export function checkIssuer(issuer: XmlElement, entityId: string, what: string, reject: SamlRejecter): void {
  const format = attribute(issuer, 'Format');
  if (format !== null && format !== ENTITY_FORMAT)
    throw reject('issuer', `${what} Issuer has Format ${format}`);
  const value = textOnly(issuer);
  if (value?.trim() !== entityId)
    throw reject('issuer', `${what} Issuer ${JSON.stringify(value)} is not ${entityId}`);
}

/** SAML times are UTC xs:dateTime (saml-core §1.3.3); anything else is refused rather than guessed at. */
export function parseSamlInstant(text: string | null, what: string, reject: SamlRejecter): number | null {
  if (text === null) return null;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = match === null ? NaN : Date.parse(`${match[1]}.${(match[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
  if (Number.isNaN(ms))
    throw reject('malformed', `${what} is not a UTC xs:dateTime: ${JSON.stringify(text)}`);
  return ms;
}

/**
 * The one NameID of a Subject (login responses) or of a LogoutRequest (`what` names which, in the
 * messages), read whole: no BaseID or EncryptedID instead, exactly one NameID, its text plain (no
 * comment or markup inside), not empty, and free of control characters, which no honest subject
 * name holds and which would reach logs and identity headers.
 */
export function readNameId(parent: XmlElement, what: string, reject: SamlRejecter): SamlNameId {
  for (const other of ['BaseID', 'EncryptedID']) {
    if (childElements(parent, SAML_NS.assertion, other).length > 0)
      throw reject('subject', `${what} with ${other} is not supported`);
  }
  const nameIds = childElements(parent, SAML_NS.assertion, 'NameID');
  if (nameIds.length !== 1) throw reject('subject', `${what} has ${nameIds.length} NameID elements`);
  const nameId = nameIds[0] as XmlElement;
  const text = textOnly(nameId);
  const value = text?.trim() ?? '';
  if (text === null || value === '' || /[\u0000-\u001f\u007f]/.test(value))
    throw reject('subject', 'NameID is empty or not plain text');
  return {
    value,
    format: attribute(nameId, 'Format'),
    nameQualifier: attribute(nameId, 'NameQualifier'),
    spNameQualifier: attribute(nameId, 'SPNameQualifier'),
  };
}
