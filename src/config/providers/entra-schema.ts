// Microsoft Entra ID providers (type: entra). The tenant and national cloud decide the issuer
// ({authorityHost}/{tenantId}/v2.0) and the Microsoft Graph base URL; both URLs can be overridden
// for sovereign setups and for tests, which point them at local fakes.
import { z } from 'zod';
import type { ConfigIssue } from '../cross-checks.js';
import { groupSyncSchema } from '../group-sync-schema.js';
import { durationBetween, httpUrl, parsedUrl, pemPrivateKey } from '../schema-parts.js';

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Tenant values that accept users of any (work or school) tenant; the issuer is then a {tenantid} template. */
export const MULTI_TENANT_IDS: ReadonlySet<string> = new Set(['common', 'organizations']);

/** The tenant of personal Microsoft accounts: reachable through `common`, it has no directory to ask Graph about. */
export const PERSONAL_ACCOUNTS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

// A DNS name with at least two labels (contoso.onmicrosoft.com, contoso.com): a verified domain of the tenant.
const DOMAIN_PATTERN =
  /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Where each national cloud signs users in and serves Microsoft Graph (Microsoft's national cloud endpoint tables). */
export const NATIONAL_CLOUDS = {
  global: { authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' },
  usgov: { authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://graph.microsoft.us' },
} as const;

const guid = z
  .string()
  .transform((text) => text.toLowerCase())
  .refine((text) => GUID_PATTERN.test(text), 'must be a tenant ID (a GUID)');

const tenantId = z
  .string()
  .transform((text) => text.trim().toLowerCase())
  .refine(
    (text) => GUID_PATTERN.test(text) || MULTI_TENANT_IDS.has(text) || DOMAIN_PATTERN.test(text),
    'must be a tenant ID (GUID), a verified domain such as contoso.onmicrosoft.com, organizations or common',
  );

/** A base URL without query or fragment; a trailing slash is dropped so paths can be appended. */
const baseUrl = httpUrl
  .refine((text) => {
    const url = parsedUrl(text);
    return url === null || (url.search === '' && url.hash === '');
  }, 'must be a base URL without query or fragment')
  .transform((text) => text.replace(/\/+$/, ''));

const claimPath = z.string().min(1);

export const entraProviderSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, _ or -'),
    type: z.literal('entra'),
    displayName: z.string().min(1).optional(),
    /** The directory (tenant) ID, a verified domain of the tenant, or organizations / common for multi-tenant apps. */
    tenantId,
    /** The application (client) ID of the app registration. */
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    /** Entra accepts a secret in the body (its documented form) or in Basic auth, or a certificate (private_key_jwt). */
    clientAuth: z
      .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .default('client_secret_post'),
    /** PEM private key of the certificate credential, for private_key_jwt (usually from privateKeyFile). */
    privateKey: pemPrivateKey.optional(),
    /**
     * Names the certificate in the assertion header: sent as `kid`, and as `x5t` (or `x5t#S256`) when it is
     * the certificate's base64url SHA-1 (SHA-256) thumbprint, which is how Entra finds the certificate.
     */
    privateKeyId: z.string().min(1).optional(),
    /** The full scope list; must include openid. */
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token'))
      .default(['openid', 'profile', 'email'])
      .refine((scopes) => scopes.includes('openid'), 'must include openid'),
    /**
     * Where each identity field is read from in the ID token. The email is only ever the `email` claim: a
     * preferred_username that looks like an address is a sign-in name, not a mailbox anyone verified.
     */
    claims: z
      .strictObject({
        username: claimPath.default('preferred_username'),
        email: claimPath.default('email'),
        name: claimPath.default('name'),
        groups: claimPath.default('groups'),
      })
      .default({ username: 'preferred_username', email: 'email', name: 'name', groups: 'groups' }),
    nationalCloud: z.enum(['global', 'usgov']).default('global'),
    /** Overrides the cloud's login host, e.g. for a sovereign cloud not listed here (or a test IdP). */
    authorityHost: baseUrl.optional(),
    /** Overrides the cloud's Microsoft Graph base URL. */
    graphBaseUrl: baseUrl.optional(),
    /**
     * Resolve the group object IDs Entra sends to display names through Graph. Display names are not
     * unique and users may be allowed to create groups: map roles to names only in tenants where
     * group creation is restricted, or set false and map roles to object IDs.
     */
    resolveGroupNames: z.boolean().default(true),
    /** How long a resolved group name is reused before Graph is asked again. */
    groupNameCacheTtl: durationBetween(60_000, 86_400_000, '1m', '24h').default(3_600_000), // 1h
    /** For organizations/common: the tenant IDs whose users may sign in. Absent: any tenant (a warning). */
    allowedTenants: z.array(guid).min(1).optional(),
    groupSync: groupSyncSchema,
    /** Allows http:// authorityHost and graphBaseUrl. Local test servers only: tokens can be read in transit. */
    insecureAllowHttp: z.boolean().default(false),
  })
  .superRefine((config, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    for (const key of ['authorityHost', 'graphBaseUrl'] as const) {
      const value = config[key];
      if (value !== undefined && parsedUrl(value)?.protocol === 'http:' && !config.insecureAllowHttp) {
        issue(key, 'is plain http: set insecureAllowHttp: true for a local test server only');
      }
    }
    if (config.clientAuth === 'private_key_jwt' && config.privateKey === undefined) {
      issue('privateKey', 'is required when clientAuth is private_key_jwt');
    }
    if (config.clientAuth !== 'private_key_jwt' && config.clientSecret === undefined) {
      issue('clientSecret', `is required when clientAuth is ${config.clientAuth}`);
    }
    if (config.allowedTenants !== undefined && !MULTI_TENANT_IDS.has(config.tenantId)) {
      issue('allowedTenants', 'applies only when tenantId is organizations or common');
    }
  });

export type EntraProviderConfig = z.output<typeof entraProviderSchema>;

export interface EntraUrls {
  /** e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com, no trailing slash. */
  graphBaseUrl: string;
  /** {authorityHost}/{tenantId}/v2.0: where discovery starts. */
  issuer: string;
  isMultiTenant: boolean;
}

/** The URLs a config leads to; pure, so check-config and tests can show them without any network. */
export function entraUrlsFor(
  config: Pick<EntraProviderConfig, 'tenantId' | 'nationalCloud' | 'authorityHost' | 'graphBaseUrl'>,
): EntraUrls {
  const cloud = NATIONAL_CLOUDS[config.nationalCloud];
  const authorityHost = config.authorityHost ?? cloud.authorityHost;
  return {
    authorityHost,
    graphBaseUrl: config.graphBaseUrl ?? cloud.graphBaseUrl,
    issuer: `${authorityHost}/${config.tenantId}/v2.0`,
    isMultiTenant: MULTI_TENANT_IDS.has(config.tenantId),
  };
}

/** Warnings to print at start for one entra provider; `path` is where it sits, e.g. providers.2. */
export function entraConfigWarnings(config: EntraProviderConfig, path: string): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  if (MULTI_TENANT_IDS.has(config.tenantId) && config.allowedTenants === undefined) {
    warnings.push({
      path: `${path}.allowedTenants`,
      message:
        config.tenantId === 'common'
          ? 'is not set: users of every Entra tenant, and personal Microsoft accounts, can sign in'
          : 'is not set: users of every Entra tenant can sign in',
    });
  }
  if (config.insecureAllowHttp) {
    warnings.push({
      path: `${path}.insecureAllowHttp`,
      message: 'plain-HTTP Entra endpoints allowed: tokens can be read or forged in transit',
    });
  }
  return warnings;
}
