// The one module that talks to the SAML libraries: samlify (the chosen core: AuthnRequest, metadata,
// the inbound message flow with its signature, status, issuer and time checks, decryption, logout
// messages) and xml-crypto (the check of one given <ds:Signature> element, which response-checks.ts
// needs to tie the signature to the very element it reads). Swapping samlify means rewriting this
// file only; everything else sees the plain types below.
//
// samlify's verdict is necessary, never sufficient: every inbound message also passes the gateway's
// own checks (response-checks.ts, logout-checks.ts, redirect-binding.ts). In particular samlify
// issue #634 (signature wrapping of signed AuthnRequest / LogoutRequest) is unfixed in 2.13.1, so a
// LogoutRequest is accepted only when the gateway's own detached-signature and structure checks pass too.
import { randomUUID } from 'node:crypto';
import { POST_BINDING, REDIRECT_BINDING, type IdpDescriptor } from './idp-metadata.js';
import type { SamlNameId } from '../../core/saml-session.js';
import type { SamlRejecter, SamlRejection } from './saml-errors.js';
import { validateSamlXml } from './schema-validator.js';
import { requireCjs, type XmlElement } from './xml-dom.js';

// The slices of samlify 2.13 and xml-crypto 6 used here, typed locally (see xml-dom.ts for why).
interface Endpoint {
  Binding: string;
  Location: string;
}
interface SamlifySpSettings {
  entityID: string;
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  wantMessageSigned: boolean;
  wantLogoutRequestSigned: boolean;
  wantLogoutResponseSigned: boolean;
  isAssertionEncrypted: boolean;
  requestSignatureAlgorithm: string;
  nameIDFormat: string[];
  allowCreate: boolean;
  clockDrifts: [number, number];
  assertionConsumerService: Endpoint[];
  singleLogoutService: Endpoint[];
  privateKey?: string;
  signingCert?: string;
  encPrivateKey?: string;
  encryptCert?: string;
}
interface SamlifyIdpSettings {
  entityID: string;
  signingCert: string[];
  singleSignOnService: Endpoint[];
  singleLogoutService: Endpoint[];
  wantAuthnRequestsSigned: boolean;
  wantLogoutRequestSigned: boolean;
  wantLogoutResponseSigned: boolean;
  requestSignatureAlgorithm: string;
  isAssertionEncrypted: boolean;
}
type SamlifyIdp = { readonly entityMeta: unknown };
type BuiltMessage = { id: string; context: string };
type TemplateCallback = () => BuiltMessage;
interface SamlifySp {
  getMetadata(): string;
  createLoginRequest(idp: SamlifyIdp, binding: 'redirect', options: { relayState: string }): BuiltMessage;
  parseLoginResponse(
    idp: SamlifyIdp,
    binding: 'post',
    request: { body: Record<string, string> },
  ): Promise<{ samlContent: string }>;
  parseLogoutRequest(
    idp: SamlifyIdp,
    binding: 'redirect',
    request: RedirectMessage,
  ): Promise<{ samlContent: string }>;
  parseLogoutResponse(
    idp: SamlifyIdp,
    binding: 'redirect',
    request: RedirectMessage,
  ): Promise<{ samlContent: string }>;
  createLogoutRequest(
    idp: SamlifyIdp,
    binding: 'redirect',
    user: { logoutNameID: string },
    options: { relayState: string; customTagReplacement: TemplateCallback },
  ): BuiltMessage;
  createLogoutResponse(
    idp: SamlifyIdp,
    requestInfo: null,
    binding: 'redirect',
    options: { relayState: string; customTagReplacement: TemplateCallback },
  ): BuiltMessage;
}
interface SamlifyModule {
  SamlLib: { decryptAssertion(sp: SamlifySp, xml: string): Promise<[string, string]> };
  setSchemaValidator(validator: { validate: (xml: string) => Promise<unknown> }): void;
  ServiceProvider(settings: SamlifySpSettings): SamlifySp;
  IdentityProvider(settings: SamlifyIdpSettings): SamlifyIdp;
}
interface XmlCryptoModule {
  SignedXml: new (options: { publicCert: string; getCertFromKeyInfo: () => null }) => {
    loadSignature(signature: XmlElement): void;
    checkSignature(xml: string): boolean;
    getSignedReferences(): string[];
  };
}

const samlify = requireCjs('samlify') as SamlifyModule;
const { SignedXml } = requireCjs('xml-crypto') as XmlCryptoModule;

samlify.setSchemaValidator({ validate: validateSamlXml });

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

export interface SpSettings {
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  /** PEM; signs AuthnRequests, LogoutRequests and LogoutResponses when set. */
  signingKey?: string;
  signingCertificate?: string;
  /** PEM; when set, assertions must arrive encrypted to decryptionCertificate. */
  decryptionKey?: string;
  decryptionCertificate?: string;
  nameIdFormat: string;
  clockSkewMs: number;
}

export interface RedirectMessage {
  /** The decoded query parameters as samlify expects them. */
  query: Record<string, string>;
  /** The signed octets of the HTTP-Redirect binding (saml-bindings §3.4.4.1). */
  octetString: string;
}

export interface SamlEngine {
  spMetadataXml(): string;
  /** An HTTP-Redirect AuthnRequest to the IdP's SSO endpoint; the ID is what InResponseTo must match. */
  authnRequest(idp: IdpDescriptor, relayState: string): { url: URL; requestId: string };
  /**
   * samlify's verdict on a POST-binding login response: schema, status, a valid IdP signature, issuer,
   * time window. Returns the message as the gateway's own checks must see it: as sent, with the
   * assertion decrypted when encryption is configured. Rejects through `reject`.
   */
  verifyLoginResponse(idp: IdpDescriptor, samlResponse: string, reject: SamlRejecter): Promise<string>;
  /** samlify's verdict on a signed HTTP-Redirect LogoutRequest from the IdP. */
  verifyLogoutRequest(idp: IdpDescriptor, message: RedirectMessage, reject: SamlRejecter): Promise<void>;
  /** samlify's verdict on a signed HTTP-Redirect LogoutResponse from the IdP. */
  verifyLogoutResponse(idp: IdpDescriptor, message: RedirectMessage, reject: SamlRejecter): Promise<void>;
  /** A LogoutRequest to the IdP's SLO endpoint; null when the IdP has none. */
  logoutRequest(
    idp: IdpDescriptor,
    subject: { nameId: SamlNameId; sessionIndex: string | null },
    relayState: string,
  ): { url: URL; requestId: string } | null;
  /** The LogoutResponse answering an IdP's LogoutRequest; null when the IdP has no SLO endpoint. */
  logoutResponse(
    idp: IdpDescriptor,
    inResponseTo: string,
    success: boolean,
    relayState: string | null,
  ): URL | null;
}

export function createSamlEngine(settings: SpSettings): SamlEngine {
  const signs = settings.signingKey !== undefined;
  const sp = samlify.ServiceProvider({
    entityID: settings.entityId,
    authnRequestsSigned: signs,
    wantAssertionsSigned: true,
    wantMessageSigned: false,
    wantLogoutRequestSigned: true,
    wantLogoutResponseSigned: true,
    isAssertionEncrypted: settings.decryptionKey !== undefined,
    requestSignatureAlgorithm: RSA_SHA256,
    nameIDFormat: [settings.nameIdFormat],
    allowCreate: true,
    clockDrifts: [-settings.clockSkewMs, settings.clockSkewMs],
    assertionConsumerService: [{ Binding: POST_BINDING, Location: settings.acsUrl }],
    singleLogoutService: [{ Binding: REDIRECT_BINDING, Location: settings.sloUrl }],
    ...(settings.signingKey === undefined ? {} : { privateKey: settings.signingKey }),
    ...(settings.signingCertificate === undefined ? {} : { signingCert: settings.signingCertificate }),
    ...(settings.decryptionKey === undefined ? {} : { encPrivateKey: settings.decryptionKey }),
    ...(settings.decryptionCertificate === undefined ? {} : { encryptCert: settings.decryptionCertificate }),
  });

  // samlify's IdP entity, built from the descriptor (not from the raw metadata, so aggregates work)
  // and kept while that descriptor is current.
  const idpEntities = new WeakMap<IdpDescriptor, SamlifyIdp>();
  function idpEntity(idp: IdpDescriptor): SamlifyIdp {
    let entity = idpEntities.get(idp);
    if (entity === undefined) {
      entity = samlify.IdentityProvider({
        entityID: idp.entityId,
        signingCert: [...idp.signingCertificates],
        singleSignOnService: [{ Binding: REDIRECT_BINDING, Location: idp.ssoRedirectUrl }],
        singleLogoutService:
          idp.sloRedirectUrl === null ? [] : [{ Binding: REDIRECT_BINDING, Location: idp.sloRedirectUrl }],
        // Whether what the SP sends to this IdP is signed: yes whenever the SP has a key. (samlify
        // refuses to sign an AuthnRequest the metadata does not ask to be signed; signing anyway is
        // harmless, and an IdP that wants signatures from an SP without a key refuses it itself.)
        wantAuthnRequestsSigned: signs,
        wantLogoutRequestSigned: signs,
        wantLogoutResponseSigned: signs,
        requestSignatureAlgorithm: RSA_SHA256,
        // samlify decides whether to decrypt from the sender's entity, not the receiver's.
        isAssertionEncrypted: settings.decryptionKey !== undefined,
      });
      idpEntities.set(idp, entity);
    }
    return entity;
  }

  return {
    spMetadataXml: () => sp.getMetadata(),

    authnRequest(idp, relayState) {
      const { id, context } = sp.createLoginRequest(idpEntity(idp), 'redirect', { relayState });
      return { url: new URL(context), requestId: id };
    },

    async verifyLoginResponse(idp, samlResponse, reject) {
      try {
        await sp.parseLoginResponse(idpEntity(idp), 'post', { body: { SAMLResponse: samlResponse } });
      } catch (err) {
        throw reject(classify(err), `samlify: ${describe(err)}`);
      }
      const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
      if (settings.decryptionKey === undefined) return xml;
      // The gateway's checks read the message as sent, with only the assertion decrypted (samlify's
      // own result is a re-serialisation, and still encrypted when the Response was unsigned).
      try {
        const [decrypted] = await samlify.SamlLib.decryptAssertion(sp, xml);
        return decrypted;
      } catch (err) {
        throw reject('encryption', `decryption failed: ${describe(err)}`);
      }
    },

    async verifyLogoutRequest(idp, message, reject) {
      try {
        await sp.parseLogoutRequest(idpEntity(idp), 'redirect', message);
      } catch (err) {
        throw reject(classify(err), `samlify: ${describe(err)}`);
      }
    },

    async verifyLogoutResponse(idp, message, reject) {
      try {
        await sp.parseLogoutResponse(idpEntity(idp), 'redirect', message);
      } catch (err) {
        throw reject(classify(err), `samlify: ${describe(err)}`);
      }
    },

    logoutRequest(idp, subject, relayState) {
      if (idp.sloRedirectUrl === null) return null;
      const destination = idp.sloRedirectUrl;
      const { id, context } = sp.createLogoutRequest(
        idpEntity(idp),
        'redirect',
        { logoutNameID: subject.nameId.value },
        {
          relayState,
          customTagReplacement: () => {
            const requestId = newMessageId();
            return {
              id: requestId,
              context: logoutRequestXml(requestId, settings.entityId, destination, subject),
            };
          },
        },
      );
      return { url: new URL(context), requestId: id };
    },

    logoutResponse(idp, inResponseTo, success, relayState) {
      if (idp.sloRedirectUrl === null) return null;
      const destination = idp.sloRedirectUrl;
      const { context } = sp.createLogoutResponse(idpEntity(idp), null, 'redirect', {
        relayState: relayState ?? '',
        customTagReplacement: () => {
          const responseId = newMessageId();
          return {
            id: responseId,
            context: logoutResponseXml(responseId, settings.entityId, destination, inResponseTo, success),
          };
        },
      });
      return new URL(context);
    },
  };
}

/**
 * True when the <ds:Signature> element `signature` (from a parse of `xml`) verifies with one of the
 * certificates (base64 DER). The key comes from the certificate only: KeyInfo is never used as a key
 * source. xml-crypto also refuses documents in which the referenced ID occurs twice.
 */
export function verifyXmlSignature(
  xml: string,
  signature: XmlElement,
  certificates: readonly string[],
): boolean {
  for (const certificate of certificates) {
    const verifier = new SignedXml({ publicCert: toPem(certificate), getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(signature);
      if (verifier.checkSignature(xml) && verifier.getSignedReferences().length === 1) return true;
    } catch {
      // An exception is a failed verification; try the next certificate.
    }
  }
  return false;
}

function toPem(certificate: string): string {
  const lines = certificate.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function newMessageId(): string {
  // xs:ID must not start with a digit; 128 random bits.
  return `_${randomUUID().replaceAll('-', '')}`;
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function optionalAttribute(name: string, value: string | null): string {
  return value === null ? '' : ` ${name}="${xmlEscape(value)}"`;
}

/** The NameID exactly as the assertion carried it (format and qualifiers too): saml-core §3.7.1. */
function logoutRequestXml(
  id: string,
  issuer: string,
  destination: string,
  subject: { nameId: SamlNameId; sessionIndex: string | null },
): string {
  const { nameId, sessionIndex } = subject;
  return (
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${xmlEscape(destination)}">` +
    `<saml:Issuer>${xmlEscape(issuer)}</saml:Issuer>` +
    `<saml:NameID${optionalAttribute('NameQualifier', nameId.nameQualifier)}${optionalAttribute('SPNameQualifier', nameId.spNameQualifier)}` +
    `${optionalAttribute('Format', nameId.format)}>${xmlEscape(nameId.value)}</saml:NameID>` +
    (sessionIndex === null ? '' : `<samlp:SessionIndex>${xmlEscape(sessionIndex)}</samlp:SessionIndex>`) +
    `</samlp:LogoutRequest>`
  );
}

function logoutResponseXml(
  id: string,
  issuer: string,
  destination: string,
  inResponseTo: string,
  success: boolean,
): string {
  const status = success
    ? 'urn:oasis:names:tc:SAML:2.0:status:Success'
    : 'urn:oasis:names:tc:SAML:2.0:status:Responder';
  return (
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${xmlEscape(destination)}"` +
    ` InResponseTo="${xmlEscape(inResponseTo)}"><saml:Issuer>${xmlEscape(issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${status}"/></samlp:Status></samlp:LogoutResponse>`
  );
}

/** samlify reports failures as Error messages holding a code; map them to the gateway's reasons. */
function classify(err: unknown): SamlRejection {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'SamlSchemaError') return 'schema';
  if (/WRAPPING/.test(message)) return 'wrapping';
  if (/SIGNATURE|CERTIFICATE|SIG_ALG/.test(message)) return 'signature';
  if (/FAILED_STATUS|UNDEFINED_STATUS/.test(message)) return 'status';
  if (/UNMATCH_ISSUER/.test(message)) return 'issuer';
  if (/EXPIRED|SUBJECT_UNCONFIRMED/.test(message)) return 'expired';
  if (/ENCRYPT|DECRYPT|MULTIPLE_ASSERTION/.test(message))
    return /MULTIPLE/.test(message) ? 'wrapping' : 'encryption';
  return 'malformed';
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? 'error';
}
