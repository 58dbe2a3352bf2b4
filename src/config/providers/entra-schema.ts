// Microsoft Entra ID providers (type: entra). The tenant and national cloud decide the issuer
// ({authorityHost}/{tenantId}/v2.0) and the Microsoft Graph base URL; both URLs can be overridden
// for sovereign setups and for tests, which point them at local fakes.
import { z } from 'zod';
import type { ConfigIssue } from '../issues.js';
import { groupSyncSchema } from '../group-sync-schema.js';
import {
  claimMapping,
  clientCredentialFields,
  durationBetween,
  httpUrl,
  oidcScopes,
  parsedUrl,
  providerId,
} from '../schema-parts.js';

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

export const entraProviderSchema = z
  .strictObject({
    id: providerId,
    type: z.literal('entra'),
    displayName: z.string().min(1).optional(),
    /** The directory (tenant) ID, a verified domain of the tenant, or organizations / common for multi-tenant apps. */
    tenantId,
    /** clientId: the application (client) ID. Entra takes a secret in the body (its documented form) or
     * Basic auth, or a certificate (private_key_jwt, with the certificate's thumbprint as privateKeyId). */
    ...clientCredentialFields('client_secret_post'),
    scopes: oidcScopes,
    /** The email is only ever the `email` claim: a preferred_username that looks like an address is a sign-in name. */
    claims: claimMapping('preferred_username'),
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
