// Okta (type: okta): a preset over the generic OIDC provider. The user names the Okta domain and
// authorization server; providers/okta/okta-provider.ts derives the issuer and the OIDC config.
import { z } from 'zod';
import type { ConfigIssue } from '../issues.js';
import { groupSyncSchema } from '../group-sync-schema.js';
import { claimMapping, clientCredentialFields, httpUrl, oidcScopes, providerId } from '../schema-parts.js';

/** 'ACME.okta.com/' and 'acme.okta.com' are one domain: hostnames are case-insensitive. */
export function normaliseOktaDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\/+$/, '').replace(/\.$/, '');
}

const HOSTNAME = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const oktaProviderSchema = z.strictObject({
  id: providerId,
  type: z.literal('okta'),
  displayName: z.string().min(1).optional(),
  /** The Okta org's hostname (or its custom domain), e.g. acme.okta.com: no scheme, no path. */
  domain: z
    .string()
    .transform(normaliseOktaDomain)
    .refine(
      (domain) => HOSTNAME.test(domain),
      'must be a hostname such as acme.okta.com, without https:// or a path',
    ),
  /**
   * The custom authorization server's id: 'default' for Okta's built-in one, or e.g. aus1a2b3c4d5e6f7g8h9.
   * Absent or empty: the org authorization server (issuer https://{domain}).
   */
  serverId: z
    .string()
    .regex(
      /^[A-Za-z0-9]*$/,
      "must be an authorization server id such as 'default' or aus1a2b3c4d5e6f7g8h9 (empty for the org authorization server)",
    )
    .optional(),
  ...clientCredentialFields('client_secret_basic'),
  /**
   * The full scope list; must include openid. Okta returns a `groups` claim only when a groups claim
   * is configured on the authorization server (and, if that claim is tied to a scope, that scope is asked for).
   */
  scopes: oidcScopes,
  claims: claimMapping('preferred_username'),
  /**
   * Checked on the access token when set, e.g. api://default. Okta's custom authorization servers
   * issue JWT access tokens whose `aud` is the server's audience; the login is refused when the
   * token is not a JWT signed by the issuer with this audience.
   */
  audience: z.string().min(1).optional(),
  groupSync: groupSyncSchema,
  /**
   * Test only: an http:// issuer used instead of https://{domain}/..., so tests can stand a local
   * IdP in for Okta. Tokens can be read or forged in transit.
   */
  insecureIssuerOverride: httpUrl.optional(),
});

export type OktaProviderConfig = z.output<typeof oktaProviderSchema>;

/** Errors spanning keys of one okta provider; `path` is where it sits, e.g. providers.1. */
export function oktaConfigIssues(config: OktaProviderConfig, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (config.clientAuth === 'private_key_jwt' && config.privateKey === undefined) {
    issues.push({
      path: `${path}.privateKeyFile`,
      message: 'is required when clientAuth is private_key_jwt',
    });
  }
  if (config.clientAuth !== 'private_key_jwt' && config.clientSecret === undefined) {
    issues.push({
      path: `${path}.clientSecret`,
      message: `is required when clientAuth is ${config.clientAuth}`,
    });
  }
  // Access tokens of the org authorization server are meant for Okta's own APIs only: Okta says
  // to treat them as opaque, and clients cannot verify them.
  if (config.audience !== undefined && !config.serverId && config.insecureIssuerOverride === undefined) {
    issues.push({
      path: `${path}.audience`,
      message: "needs a custom authorization server: set serverId (e.g. 'default')",
    });
  }
  return issues;
}

/** Warnings to print at start for one okta provider. */
export function oktaConfigWarnings(config: OktaProviderConfig, path: string): ConfigIssue[] {
  if (config.insecureIssuerOverride === undefined) return [];
  return [
    {
      path: `${path}.insecureIssuerOverride`,
      message: `Okta is replaced by ${config.insecureIssuerOverride}: for local tests only`,
    },
  ];
}
