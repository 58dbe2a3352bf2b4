// Building hostile SAML responses for the security tests: responses signed with the test IdP's own key
// (test/fixtures/saml/keys/idp.key, the key SimpleSAMLphp signs with) so an attack reaches the checks
// behind the signature, re-signing with a foreign key, and the XML signature wrapping shapes XSW1-8
// (as SAML Raider names them) applied to a genuinely signed response.
//
// xml-crypto and @xmldom/xmldom are loaded with require() and typed here (see src/providers/saml/xml-dom.ts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SAML_KEYS_DIR } from './saml-idp.js';

const requireCjs = createRequire(import.meta.url);

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export interface MNode {
  nodeType: number;
  parentNode: MNode | null;
  childNodes: ArrayLike<MNode> | null;
  textContent: string | null;
  cloneNode(deep: boolean): MNode;
}
export interface MElement extends MNode {
  localName: string;
  namespaceURI: string | null;
  firstChild: MNode | null;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  appendChild(child: MNode): MNode;
  insertBefore(child: MNode, before: MNode | null): MNode;
  removeChild(child: MNode): MNode;
  replaceChild(child: MNode, old: MNode): MNode;
}
export interface MDocument extends MNode {
  documentElement: MElement;
  createComment(text: string): MNode;
  createTextNode(text: string): MNode;
  createElementNS(namespace: string, qualifiedName: string): MElement;
}

const xmldom = requireCjs('@xmldom/xmldom') as {
  DOMParser: new () => { parseFromString(xml: string, mime: string): MDocument };
  XMLSerializer: new () => { serializeToString(node: MNode): string };
};
const { SignedXml } = requireCjs('xml-crypto') as {
  SignedXml: new (options: {
    privateKey: string;
    publicCert: string;
    signatureAlgorithm: string;
    canonicalizationAlgorithm: string;
  }) => {
    addReference(reference: { xpath: string; digestAlgorithm: string; transforms: string[] }): void;
    computeSignature(
      xml: string,
      options: { prefix: string; location: { reference: string; action: 'after' | 'append' } },
    ): void;
    getSignedXml(): string;
  };
};

const read = (file: string) => readFileSync(join(SAML_KEYS_DIR, file), 'utf8');
export const IDP_KEY = { key: read('idp.key'), cert: read('idp.crt') };
export const ATTACKER_KEY = { key: read('attacker.key'), cert: read('attacker.crt') };

export function parseXml(xml: string): MDocument {
  return new xmldom.DOMParser().parseFromString(xml, 'text/xml');
}
export function serialize(node: MNode): string {
  return new xmldom.XMLSerializer().serializeToString(node);
}
export function toBase64(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}
export function fromBase64(samlResponse: string): string {
  return Buffer.from(samlResponse, 'base64').toString('utf8');
}

function isElement(node: MNode): node is MElement {
  return node.nodeType === 1;
}
export function children(element: MNode): MElement[] {
  return element.childNodes === null ? [] : Array.from(element.childNodes).filter(isElement);
}
/** Every element named `localName` (in `namespace`) at or below `root`, in document order. */
export function findAll(root: MNode, localName: string, namespace?: string): MElement[] {
  const found: MElement[] = [];
  const visit = (node: MNode) => {
    if (
      isElement(node) &&
      node.localName === localName &&
      (namespace === undefined || node.namespaceURI === namespace)
    )
      found.push(node);
    for (const child of node.childNodes === null ? [] : Array.from(node.childNodes)) visit(child);
  };
  visit(root);
  return found;
}
export function first(root: MNode, localName: string, namespace?: string): MElement {
  const found = findAll(root, localName, namespace)[0];
  if (found === undefined) throw new Error(`no ${localName} element`);
  return found;
}
/** The direct child Signature of `element`, if any. */
export function ownSignature(element: MElement): MElement | undefined {
  return children(element).find((child) => child.localName === 'Signature' && child.namespaceURI === NS.dsig);
}

export function mutate(xml: string, change: (doc: MDocument) => void): string {
  const doc = parseXml(xml);
  change(doc);
  return serialize(doc);
}

export function newId(): string {
  return `_${randomBytes(16).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Responses from scratch, in SimpleSAMLphp's shape

export interface ForgeOptions {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  inResponseTo: string | null;
  nameId: string;
  nameIdFormat?: string;
  attributes?: Record<string, readonly string[]>;
  /** Default now. */
  now?: number;
  /** Seconds from now; default 300. */
  validForSeconds?: number;
  destination?: string;
  recipient?: string;
  audience?: string;
  assertionId?: string;
  status?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

export function forgeResponseXml(options: ForgeOptions): string {
  const now = options.now ?? Date.now();
  const until = iso(now + (options.validForSeconds ?? 300) * 1000);
  const inResponseTo = options.inResponseTo === null ? '' : ` InResponseTo="${escape(options.inResponseTo)}"`;
  const attributes = Object.entries(options.attributes ?? {})
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${escape(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values
          .map((value) => `<saml:AttributeValue xsi:type="xs:string">${escape(value)}</saml:AttributeValue>`)
          .join('')}</saml:Attribute>`,
    )
    .join('');
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${iso(now)}"` +
    ` Destination="${escape(options.destination ?? options.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${escape(options.idpEntityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${options.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/></samlp:Status>` +
    `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${options.assertionId ?? newId()}" Version="2.0" IssueInstant="${iso(now)}">` +
    `<saml:Issuer>${escape(options.idpEntityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID SPNameQualifier="${escape(options.spEntityId)}" Format="${options.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'}">${escape(options.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${until}" Recipient="${escape(options.recipient ?? options.acsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(now - 30_000)}" NotOnOrAfter="${until}"><saml:AudienceRestriction><saml:Audience>${escape(options.audience ?? options.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionNotOnOrAfter="${iso(now + 8 * 3_600_000)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes === '' ? '' : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`) +
    `</saml:Assertion></samlp:Response>`
  );
}

/** Signs the element matching `localName` (Assertion or Response) the way SimpleSAMLphp does: enveloped, exc-c14n, RSA-SHA256, cert in KeyInfo, Signature after Issuer. */
export function sign(
  xml: string,
  localName: 'Assertion' | 'Response',
  signer: { key: string; cert: string },
  algorithms: { signature?: string; digest?: string } = {},
): string {
  const signature = new SignedXml({
    privateKey: signer.key,
    publicCert: signer.cert,
    signatureAlgorithm: algorithms.signature ?? 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  const target = `/*[local-name(.)='Response']${localName === 'Assertion' ? "/*[local-name(.)='Assertion']" : ''}`;
  signature.addReference({
    xpath: target,
    digestAlgorithm: algorithms.digest ?? 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
  });
  signature.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signature.getSignedXml();
}

/** Removes every ds:Signature from the document. */
export function stripSignatures(xml: string): string {
  return mutate(xml, (doc) => {
    for (const signature of findAll(doc, 'Signature', NS.dsig))
      (signature.parentNode as MElement | null)?.removeChild(signature);
  });
}

export function setNameId(doc: MDocument, value: string): void {
  const nameId = first(doc, 'NameID', NS.assertion);
  nameId.textContent = value;
}

// ---------------------------------------------------------------------------------------------
// XML signature wrapping, XSW1-8 (SAML Raider's numbering), on a response whose Response and
// Assertion are both signed. Each yields a document in which a naive SP would verify the original
// signature yet read `evilNameId`.

function evilUnsignedAssertion(original: MElement, evilNameId: string): MElement {
  const evil = original.cloneNode(true) as MElement;
  const signature = ownSignature(evil);
  if (signature !== undefined) evil.removeChild(signature);
  evil.setAttribute('ID', newId());
  first(evil, 'NameID', NS.assertion).textContent = evilNameId;
  return evil;
}

function evilSignedCopy(original: MElement, evilNameId: string): MElement {
  const evil = original.cloneNode(true) as MElement; // keeps the copy of the original signature
  evil.setAttribute('ID', newId());
  first(evil, 'NameID', NS.assertion).textContent = evilNameId;
  return evil;
}

function withoutSignature(element: MElement): MElement {
  const copy = element.cloneNode(true) as MElement;
  const signature = ownSignature(copy);
  if (signature !== undefined) copy.removeChild(signature);
  return copy;
}

export type XswVariant = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

export function xsw(variant: XswVariant, genuineXml: string, evilNameId: string): string {
  const doc = parseXml(genuineXml);
  const response = doc.documentElement;
  const assertion = first(response, 'Assertion', NS.assertion);
  const responseSignature = ownSignature(response);
  if (responseSignature === undefined || ownSignature(assertion) === undefined) {
    throw new Error('XSW needs a response whose Response and Assertion are both signed');
  }

  if (variant === 1 || variant === 2) {
    // Response wrapping: an evil Response (new ID, evil unsigned assertion) carries the original
    // signature, and the original Response (its signature removed) hides inside that signature (1)
    // or beside it (2), where the signature's reference still finds it.
    const original = withoutSignature(response);
    const evil = response.cloneNode(true) as MElement;
    evil.setAttribute('ID', newId());
    const evilSignature = ownSignature(evil) as MElement;
    const evilAssertion = first(evil, 'Assertion', NS.assertion);
    evil.replaceChild(evilUnsignedAssertion(evilAssertion, evilNameId), evilAssertion);
    if (variant === 1) evilSignature.appendChild(original);
    else evil.insertBefore(original, evilSignature);
    return `<?xml version="1.0"?>\n${serialize(evil)}`;
  }

  // Assertion wrapping: the Response signature is dropped (it would no longer verify anyway).
  response.removeChild(responseSignature);
  switch (variant) {
    case 3: // evil unsigned assertion placed before the original
      response.insertBefore(evilUnsignedAssertion(assertion, evilNameId), assertion);
      break;
    case 4: {
      // evil unsigned assertion wraps the original
      const evil = evilUnsignedAssertion(assertion, evilNameId);
      response.replaceChild(evil, assertion);
      evil.appendChild(assertion);
      break;
    }
    case 5: {
      // evil copy carries the signature; the original, unsigned, goes to the end
      const evil = evilSignedCopy(assertion, evilNameId);
      response.replaceChild(evil, assertion);
      response.appendChild(withoutSignature(assertion));
      break;
    }
    case 6: {
      // evil copy carries the signature; the original, unsigned, hides inside that signature
      const evil = evilSignedCopy(assertion, evilNameId);
      response.replaceChild(evil, assertion);
      (ownSignature(evil) as MElement).appendChild(withoutSignature(assertion));
      break;
    }
    case 7: {
      // the original (signed) hides in samlp:Extensions; an evil unsigned assertion takes its place
      const extensions = doc.createElementNS(NS.protocol, 'samlp:Extensions');
      const evil = evilUnsignedAssertion(assertion, evilNameId);
      response.replaceChild(evil, assertion);
      extensions.appendChild(assertion);
      response.insertBefore(extensions, first(response, 'Status', NS.protocol));
      break;
    }
    case 8: {
      // evil copy carries the signature; the original, unsigned, hides in a ds:Object inside it
      const evil = evilSignedCopy(assertion, evilNameId);
      response.replaceChild(evil, assertion);
      const object = doc.createElementNS(NS.dsig, 'ds:Object');
      object.appendChild(withoutSignature(assertion));
      (ownSignature(evil) as MElement).appendChild(object);
      break;
    }
  }
  return serialize(doc);
}
