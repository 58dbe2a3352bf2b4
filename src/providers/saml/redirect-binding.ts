// The HTTP-Redirect binding on the way in (saml-bindings §3.4): the message is DEFLATEd, base64'd and
// URL-encoded into the query, and a signed one carries SigAlg and Signature over the exact octets
// "SAMLRequest=…&RelayState=…&SigAlg=…" as they were sent. This module checks that detached
// signature itself with node:crypto against the IdP metadata certificates, independently of samlify.
import { X509Certificate, verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { SamlRejecter } from './saml-errors.js';
import { MAX_SAML_MESSAGE_BYTES } from './schema-validator.js';

/** SHA-256 and SHA-512 with RSA only: no SHA-1, no DSA (saml-bindings lists them; we do not accept them). */
const REDIRECT_SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
};

export type RedirectParameter = 'SAMLRequest' | 'SAMLResponse';

export interface InboundRedirectMessage {
  parameter: RedirectParameter;
  xml: string;
  relayState: string | null;
  /** Decoded values, as samlify takes them. */
  query: Record<string, string>;
  octetString: string;
  signed: boolean;
}

/**
 * Reads the raw query string (as received, before any decoding). Each SAML parameter may appear at
 * most once; the message is inflated with an output limit (no decompression bombs).
 */
export function readRedirectMessage(rawQuery: string, reject: SamlRejecter): InboundRedirectMessage {
  const raw = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    const value = equals === -1 ? '' : pair.slice(equals + 1);
    if (!['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'].includes(name)) continue;
    if (raw.has(name)) throw reject('malformed', `${name} appears more than once`);
    raw.set(name, value);
  }
  const parameter: RedirectParameter | null = raw.has('SAMLRequest')
    ? raw.has('SAMLResponse')
      ? null
      : 'SAMLRequest'
    : raw.has('SAMLResponse')
      ? 'SAMLResponse'
      : null;
  if (parameter === null) throw reject('malformed', 'expected exactly one of SAMLRequest or SAMLResponse');

  const decode = (name: string): string | null => {
    const value = raw.get(name);
    if (value === undefined) return null;
    try {
      return decodeURIComponent(value.replace(/\+/g, ' '));
    } catch {
      throw reject('malformed', `${name} is not URL-encoded`);
    }
  };
  // Base64 has no spaces: a '+' sent unencoded (and so decoded as a space) is still a '+'.
  const base64 = (name: string): string | null => decode(name)?.replace(/ /g, '+') ?? null;
  const encoded = base64(parameter) ?? '';
  if (!/^[A-Za-z0-9+/=\s]+$/.test(encoded)) throw reject('malformed', `${parameter} is not base64`);
  let xml: string;
  try {
    xml = inflateRawSync(Buffer.from(encoded, 'base64'), {
      maxOutputLength: MAX_SAML_MESSAGE_BYTES,
    }).toString('utf8');
  } catch {
    throw reject('malformed', `${parameter} does not inflate (or is too large)`);
  }

  const relayState = decode('RelayState');
  const sigAlg = decode('SigAlg');
  const signature = base64('Signature');
  let octetString = `${parameter}=${raw.get(parameter) ?? ''}`;
  if (raw.has('RelayState')) octetString += `&RelayState=${raw.get('RelayState') ?? ''}`;
  if (raw.has('SigAlg')) octetString += `&SigAlg=${raw.get('SigAlg') ?? ''}`;

  const query: Record<string, string> = { [parameter]: encoded };
  if (relayState !== null) query.RelayState = relayState;
  if (sigAlg !== null) query.SigAlg = sigAlg;
  if (signature !== null) query.Signature = signature;
  return { parameter, xml, relayState, query, octetString, signed: sigAlg !== null && signature !== null };
}

/** True when the detached signature verifies with one of the IdP's certificates (base64 DER). */
export function verifyRedirectSignature(
  message: InboundRedirectMessage,
  certificates: readonly string[],
  reject: SamlRejecter,
): boolean {
  const sigAlg = message.query.SigAlg;
  const signature = message.query.Signature;
  if (sigAlg === undefined || signature === undefined)
    throw reject('unsigned', 'the message carries no SigAlg and Signature');
  const digest = REDIRECT_SIGNATURE_ALGORITHMS[sigAlg];
  if (digest === undefined) throw reject('unsupported', `SigAlg ${sigAlg}`);
  const signatureBytes = Buffer.from(signature, 'base64');
  const data = Buffer.from(message.octetString, 'utf8');
  return certificates.some((certificate) => {
    try {
      const { publicKey } = new X509Certificate(Buffer.from(certificate, 'base64'));
      return verify(digest, data, publicKey, signatureBytes);
    } catch {
      return false;
    }
  });
}
