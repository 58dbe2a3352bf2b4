// SAML 2.0 identity providers (type: saml): the gateway is the service provider. The IdP is described
// by its metadata (inline, from a file via idpMetadataFile, or fetched from a URL and refreshed); the
// SP's own endpoints derive from publicUrl and the prefix: {prefix}/saml/{id}/metadata, .../acs, .../slo.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import type { ConfigIssue } from '../issues.js';
import { groupSyncSchema } from '../group-sync-schema.js';
import { durationBetween, httpUrl, pemPrivateKey, providerId } from '../schema-parts.js';

/** The NameID formats an AuthnRequest may ask for (saml-core §8.3). */
export const NAME_ID_FORMATS = {
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;

const pemCertificate = z.string().refine((pem) => {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}, 'must be a PEM X.509 certificate');

const attributeName = z.string().min(1).max(1024);

export const samlProviderSchema = z.strictObject({
  id: providerId,
  type: z.literal('saml'),
  displayName: z.string().min(1).optional(),
  /** The IdP's metadata XML (usually from idpMetadataFile). Read once at start. */
  idpMetadata: z.string().min(1).optional(),
  /** Where the IdP publishes its metadata. Fetched in the background: an IdP that is down never stops the gateway. */
  idpMetadataUrl: httpUrl.optional(),
  /** How often idpMetadataUrl is fetched again; a failed fetch keeps the last good copy. */
  idpMetadataRefresh: durationBetween(60_000, 7 * 86_400_000, '1m', '7d').default(3_600_000), // 1h
  /** Which IdP to trust when the metadata lists several entities (a federation aggregate). */
  idpEntityId: z.string().min(1).max(1024).optional(),
  /** The SP entity ID the IdP knows the gateway by. Default: {publicUrl}{prefix}/saml/{id}/metadata. */
  entityId: z.string().min(1).max(1024).optional(),
  /** RSA private key (PEM) that signs AuthnRequests and LogoutRequests (usually from signingKeyFile). */
  signingKey: pemPrivateKey.optional(),
  /** Its certificate, published in the SP metadata. */
  signingCertificate: pemCertificate.optional(),
  /** RSA private key (PEM) for encrypted assertions; when set, every assertion must arrive encrypted. */
  decryptionKey: pemPrivateKey.optional(),
  /** Its certificate, published in the SP metadata for the IdP to encrypt to. */
  decryptionCertificate: pemCertificate.optional(),
  /** The NameID format asked for in AuthnRequests and listed in the SP metadata. */
  nameIdFormat: z.enum(['unspecified', 'emailAddress', 'persistent', 'transient']).default('unspecified'),
  /**
   * Accept unsolicited responses (IdP-initiated login, from the IdP's app dashboard). They answer no
   * request of this browser, so they cannot be bound to it: anyone able to make a browser POST a
   * response they hold can sign that browser in as themselves (login CSRF). Off by default.
   */
  allowIdpInitiated: z.boolean().default(false),
  /** Tolerated clock difference with the IdP for NotBefore / NotOnOrAfter / IssueInstant. */
  clockSkew: durationBetween(0, 300_000, '0s', '5m').default(60_000),
  /** Which SAML attribute (by Name) holds each identity field. */
  attributes: z
    .strictObject({
      /** The stable user key. Absent: the NameID (then a transient NameID format is refused). */
      externalId: attributeName.optional(),
      /** Absent: the NameID. */
      username: attributeName.optional(),
      email: attributeName.default('email'),
      fullName: attributeName.default('displayName'),
      /** An assertion without this attribute leaves the user's memberships unchanged. */
      groups: attributeName.default('groups'),
    })
    .default({ email: 'email', fullName: 'displayName', groups: 'groups' }),
  groupSync: groupSyncSchema,
  /** Allows an http:// idpMetadataUrl. Local test IdPs only: the metadata carries the key every login is checked with. */
  insecureAllowHttp: z.boolean().default(false),
});

export type SamlProviderConfig = z.output<typeof samlProviderSchema>;

/** Errors spanning keys of one saml provider; `path` is where it sits, e.g. providers.3. */
export function samlConfigIssues(config: SamlProviderConfig, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string) => issues.push({ path: `${path}.${key}`, message });
  if ((config.idpMetadata === undefined) === (config.idpMetadataUrl === undefined)) {
    issue('idpMetadataUrl', 'set exactly one of idpMetadataUrl, idpMetadata or idpMetadataFile');
  }
  if (
    config.idpMetadataUrl !== undefined &&
    new URL(config.idpMetadataUrl).protocol === 'http:' &&
    !config.insecureAllowHttp
  ) {
    issue('idpMetadataUrl', 'is plain http: set insecureAllowHttp: true for a local test IdP only');
  }
  if (config.idpMetadata !== undefined && /<!DOCTYPE|<!ENTITY/i.test(config.idpMetadata)) {
    issue('idpMetadata', 'must not contain a DOCTYPE or ENTITY declaration');
  }
  for (const use of ['signing', 'decryption'] as const) {
    const key = config[`${use}Key`];
    const certificate = config[`${use}Certificate`];
    if ((key === undefined) !== (certificate === undefined)) {
      issue(
        key === undefined ? `${use}Key` : `${use}Certificate`,
        `is required with ${use}${key === undefined ? 'Certificate' : 'Key'}`,
      );
      continue;
    }
    if (key === undefined || certificate === undefined) continue;
    const privateKey = createPrivateKey(key);
    if (privateKey.asymmetricKeyType !== 'rsa') issue(`${use}Key`, 'must be an RSA key');
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    const certificateKey = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
    if (!publicKey.equals(certificateKey)) issue(`${use}Certificate`, `does not belong to ${use}Key`);
  }
  return issues;
}

/** Warnings to print at start for one saml provider. */
export function samlConfigWarnings(config: SamlProviderConfig, path: string): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  if (config.allowIdpInitiated) {
    warnings.push({
      path: `${path}.allowIdpInitiated`,
      message: 'unsolicited SAML responses are accepted: they cannot be bound to the browser (login CSRF)',
    });
  }
  if (config.insecureAllowHttp) {
    warnings.push({
      path: `${path}.insecureAllowHttp`,
      message: 'IdP metadata may be fetched over plain HTTP: whoever is in the path can replace the IdP key',
    });
  }
  return warnings;
}
