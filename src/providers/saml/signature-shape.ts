// The shape of an XML signature the gateway accepts on a SAML message, checked before (and apart
// from) the cryptographic check, which samlify-adapter.ts does with xml-crypto: one enveloped
// signature over its parent element, allowed algorithms only, and a KeyInfo that names no
// certificate the IdP's metadata does not list. KeyInfo is never used as a key source.
import type { SamlRejecter } from './saml-errors.js';
import { SAML_NS, attribute, childElements, textOnly } from './saml-xml.js';
import type { XmlElement } from './xml-dom.js';

const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const CANONICALIZATIONS: ReadonlySet<string> = new Set([
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
]);
const TRANSFORMS: ReadonlySet<string> = new Set([ENVELOPED_SIGNATURE, ...CANONICALIZATIONS]);
/** No SHA-1 (collisions are practical), no HMAC (a public key must never act as a shared secret). */
const SIGNATURE_METHODS: ReadonlySet<string> = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
const DIGEST_METHODS: ReadonlySet<string> = new Set([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

/**
 * True when `signature`, an element of the parse of `xml`, is cryptographically valid under one of
 * `certificates` (base64 DER, as in metadata). KeyInfo is never trusted as a key source.
 */
export type SignatureVerifier = (
  xml: string,
  signature: XmlElement,
  certificates: readonly string[],
) => boolean;

/**
 * The enveloped-signature shape SAML requires (saml-core §5.4): one SignedInfo, one Reference, its URI
 * '#' + the parent element's ID, only enveloped-signature and canonicalisation transforms, allowed
 * algorithms, and no ds:Object (where XSW6 and XSW8 hide the original assertion).
 */
export function checkSignatureShape(
  signature: XmlElement,
  expectedId: string,
  what: string,
  reject: SamlRejecter,
): void {
  if (childElements(signature, SAML_NS.dsig, 'Object').length > 0)
    throw reject('wrapping', `${what} signature carries ds:Object`);
  const signedInfos = childElements(signature, SAML_NS.dsig, 'SignedInfo');
  if (signedInfos.length !== 1) throw reject('signature', `${what} signature without exactly one SignedInfo`);
  const signedInfo = signedInfos[0] as XmlElement;
  const c14n = algorithmOf(signedInfo, 'CanonicalizationMethod');
  if (c14n === null || !CANONICALIZATIONS.has(c14n))
    throw reject('unsupported', `${what} canonicalization ${c14n}`);
  const method = algorithmOf(signedInfo, 'SignatureMethod');
  if (method === null || !SIGNATURE_METHODS.has(method))
    throw reject('unsupported', `${what} signature method ${method}`);

  const references = childElements(signedInfo, SAML_NS.dsig, 'Reference');
  if (references.length !== 1)
    throw reject('wrapping', `${what} signature has ${references.length} references`);
  const reference = references[0] as XmlElement;
  if (attribute(reference, 'URI') !== `#${expectedId}`) {
    throw reject(
      'wrapping',
      `${what} signature references ${JSON.stringify(attribute(reference, 'URI'))}, not its ${what}`,
    );
  }
  const transformsParents = childElements(reference, SAML_NS.dsig, 'Transforms');
  const transforms = transformsParents.flatMap((parent) => childElements(parent, SAML_NS.dsig, 'Transform'));
  const algorithms = transforms.map((transform) => attribute(transform, 'Algorithm') ?? '');
  if (transformsParents.length !== 1 || !algorithms.includes(ENVELOPED_SIGNATURE)) {
    throw reject('signature', `${what} signature is not an enveloped signature`);
  }
  const odd = algorithms.find((algorithm) => !TRANSFORMS.has(algorithm));
  if (odd !== undefined) throw reject('unsupported', `${what} signature transform ${odd}`);
  const digest = algorithmOf(reference, 'DigestMethod');
  if (digest === null || !DIGEST_METHODS.has(digest)) throw reject('unsupported', `${what} digest ${digest}`);
}

function algorithmOf(parent: XmlElement, localName: string): string | null {
  const elements = childElements(parent, SAML_NS.dsig, localName);
  return elements.length === 1 ? attribute(elements[0] as XmlElement, 'Algorithm') : null;
}

/**
 * A certificate in KeyInfo is never used to verify; one that is not in the IdP's metadata means the
 * message was signed by someone else (re-signed with the attacker's own key), so it is refused early.
 */
export function checkKeyInfo(
  signature: XmlElement,
  idp: { readonly signingCertificates: readonly string[] },
  reject: SamlRejecter,
): void {
  for (const keyInfo of childElements(signature, SAML_NS.dsig, 'KeyInfo')) {
    for (const data of childElements(keyInfo, SAML_NS.dsig, 'X509Data')) {
      for (const certificate of childElements(data, SAML_NS.dsig, 'X509Certificate')) {
        const body = normaliseCertificate(textOnly(certificate) ?? '');
        if (!idp.signingCertificates.includes(body)) {
          throw reject('signature', 'signed with a certificate the IdP metadata does not list');
        }
      }
    }
  }
}

/** A certificate's base64 DER body without PEM armour or whitespace. */
export function normaliseCertificate(text: string): string {
  return text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}
