// Reads what the gateway needs from an IdP's SAML metadata (saml-metadata-2.0): its entity ID, the
// certificates it signs with, and its HTTP-Redirect SSO and SLO endpoints. The metadata is the trust
// anchor: every response is checked against these certificates and nothing else.
import { X509Certificate } from 'node:crypto';
import { normaliseCertificate } from './signature-shape.js';
import { SAML_NS, attribute, childElements, descendants, is, parseStrictXml, textOnly } from './saml-xml.js';
import type { XmlDocument, XmlElement } from './xml-dom.js';

export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
export const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const SAML2_PROTOCOL = SAML_NS.protocol;

export interface IdpDescriptor {
  readonly entityId: string;
  /** Base64 DER bodies; KeyDescriptors with use="signing" or without a use. */
  readonly signingCertificates: readonly string[];
  readonly ssoRedirectUrl: string;
  /** Absent when the IdP offers no HTTP-Redirect SingleLogoutService: then no SP-initiated SLO. */
  readonly sloRedirectUrl: string | null;
  readonly wantAuthnRequestsSigned: boolean;
  /** The metadata's validUntil, epoch ms, when it has one. */
  readonly validUntil: number | null;
}

export class IdpMetadataInvalid extends Error {
  override readonly name = 'IdpMetadataInvalid';
}

/** Parses IdP metadata; throws IdpMetadataInvalid naming what is missing. */
export function readIdpMetadata(xml: string, expectedEntityId?: string): IdpDescriptor {
  let doc: XmlDocument;
  try {
    doc = parseStrictXml(xml);
  } catch (err) {
    throw new IdpMetadataInvalid(`IdP metadata is not acceptable XML: ${(err as Error).message}`);
  }
  const root = doc.documentElement as XmlElement;
  const entities = is(root, SAML_NS.metadata, 'EntityDescriptor')
    ? [root]
    : is(root, SAML_NS.metadata, 'EntitiesDescriptor')
      ? descendants(root).filter((el) => is(el, SAML_NS.metadata, 'EntityDescriptor'))
      : [];
  if (entities.length === 0) throw new IdpMetadataInvalid('IdP metadata has no md:EntityDescriptor');

  const idps = entities
    .map((entity) => ({ entity, idp: samlIdpDescriptor(entity) }))
    .filter((candidate): candidate is { entity: XmlElement; idp: XmlElement } => candidate.idp !== null)
    .filter(
      ({ entity }) => expectedEntityId === undefined || attribute(entity, 'entityID') === expectedEntityId,
    );
  if (idps.length !== 1) {
    throw new IdpMetadataInvalid(
      idps.length === 0
        ? `IdP metadata has no SAML 2.0 IDPSSODescriptor${expectedEntityId === undefined ? '' : ` for ${expectedEntityId}`}`
        : 'IdP metadata describes several IdPs: set idpEntityId to pick one',
    );
  }
  const { entity, idp } = idps[0] as { entity: XmlElement; idp: XmlElement };
  const entityId = attribute(entity, 'entityID');
  if (entityId === null || entityId === '') throw new IdpMetadataInvalid('IdP metadata has no entityID');

  const signingCertificates = childElements(idp, SAML_NS.metadata, 'KeyDescriptor')
    .filter((descriptor) => (attribute(descriptor, 'use') ?? 'signing') === 'signing')
    .flatMap((descriptor) => childElements(descriptor, SAML_NS.dsig, 'KeyInfo'))
    .flatMap((keyInfo) => childElements(keyInfo, SAML_NS.dsig, 'X509Data'))
    .flatMap((data) => childElements(data, SAML_NS.dsig, 'X509Certificate'))
    .map((certificate) => normaliseCertificate(textOnly(certificate) ?? ''));
  if (signingCertificates.length === 0)
    throw new IdpMetadataInvalid('IdP metadata lists no signing certificate');
  for (const certificate of signingCertificates) {
    try {
      new X509Certificate(Buffer.from(certificate, 'base64'));
    } catch {
      throw new IdpMetadataInvalid('IdP metadata holds a signing certificate that does not parse');
    }
  }

  const ssoRedirectUrl = endpoint(idp, 'SingleSignOnService');
  if (ssoRedirectUrl === null)
    throw new IdpMetadataInvalid('IdP metadata has no HTTP-Redirect SingleSignOnService');
  const validUntilText = attribute(entity, 'validUntil') ?? attribute(root, 'validUntil');
  const validUntil = validUntilText === null ? null : Date.parse(validUntilText);
  return {
    entityId,
    signingCertificates: [...new Set(signingCertificates)],
    ssoRedirectUrl,
    sloRedirectUrl: endpoint(idp, 'SingleLogoutService'),
    wantAuthnRequestsSigned: attribute(idp, 'WantAuthnRequestsSigned') === 'true',
    validUntil: validUntil === null || Number.isNaN(validUntil) ? null : validUntil,
  };
}

function samlIdpDescriptor(entity: XmlElement): XmlElement | null {
  return (
    childElements(entity, SAML_NS.metadata, 'IDPSSODescriptor').find((descriptor) =>
      (attribute(descriptor, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL),
    ) ?? null
  );
}

function endpoint(idp: XmlElement, localName: string): string | null {
  const service = childElements(idp, SAML_NS.metadata, localName).find(
    (element) => attribute(element, 'Binding') === REDIRECT_BINDING,
  );
  const location = service === undefined ? null : attribute(service, 'Location');
  if (location === null) return null;
  try {
    // Kept as written: the IdP compares the Destination of what we send with its own spelling.
    const { protocol } = new URL(location);
    return protocol === 'https:' || protocol === 'http:' ? location : null;
  } catch {
    return null;
  }
}
