// Plain OAuth 2.0 providers (type: oauth2): an IdP that issues access tokens but no ID token, such as
// GitHub's OAuth apps. Who the user is comes from a JSON "userinfo" API called with the access token,
// mapped to identity fields by dot paths.
import { z } from 'zod';
import { canonicalHeaderName, HEADER_NAME_PATTERN } from '../../core/header-names.js';
import type { ConfigIssue } from '../issues.js';
import { groupSyncSchema } from '../group-sync-schema.js';
import { httpUrl, providerId } from '../schema-parts.js';

const attributePath = z.string().min(1);

/**
 * Headers requestHeaders must not set: they carry the client's credentials, or decide how the
 * request is framed and routed, so a config value there would break or hijack the request.
 */
const FORBIDDEN_REQUEST_HEADERS: ReadonlySet<string> = new Set(
  [
    'host',
    'authorization',
    'proxy-authorization',
    'cookie',
    'content-length',
    'content-type',
    'transfer-encoding',
    'connection',
  ].map(canonicalHeaderName),
);

/** Parameters the provider sets itself; authorizationParams must not override them. */
const RESERVED_AUTHORIZATION_PARAMS: ReadonlySet<string> = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
]);

// RFC 9110 §5.5: a field value is visible characters, spaces and tabs; CR or LF would split the request.
const HEADER_VALUE_PATTERN = /^[\t\x20-\x7E\x80-\xFF]*$/;

const requestHeaders = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME_PATTERN.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'must be a valid HTTP header name' });
    } else if (FORBIDDEN_REQUEST_HEADERS.has(canonicalHeaderName(name))) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `'${name}' is set by the gateway itself and cannot be configured`,
      });
    }
    if (!HEADER_VALUE_PATTERN.test(value)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'must not contain control characters' });
    }
  }
});

const authorizationParams = z.record(z.string(), z.string()).superRefine((params, ctx) => {
  for (const name of Object.keys(params)) {
    if (RESERVED_AUTHORIZATION_PARAMS.has(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `'${name}' is set by the gateway itself and cannot be configured`,
      });
    }
  }
});

export const oauth2ProviderSchema = z.strictObject({
  id: providerId,
  type: z.literal('oauth2'),
  displayName: z.string().min(1).optional(),
  /** Where the browser is sent to sign in, e.g. https://github.com/login/oauth/authorize. */
  authorizationUrl: httpUrl,
  /** Where the code is exchanged, e.g. https://github.com/login/oauth/access_token. */
  tokenUrl: httpUrl,
  /** The JSON API that says who the access token belongs to, e.g. https://api.github.com/user. */
  userinfoUrl: httpUrl,
  clientId: z.string().min(1),
  /** Absent: a public client (no secret), which then must use PKCE (see oauth2ConfigIssues). */
  clientSecret: z.string().min(1).optional(),
  clientAuth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_post'),
  /** Sent space-separated; empty = no scope parameter (the IdP's default grant). */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token')).default([]),
  /** PKCE S256 (RFC 7636). Turn off only for an IdP that refuses the code_challenge parameter. */
  usePkce: z.boolean().default(true),
  /** Where each identity field is read from, as a dot path into the userinfo JSON. */
  attributes: z
    .strictObject({
      /** The stable user id; a number is taken as its decimal string. Login is refused without it. */
      externalId: attributePath.default('id'),
      username: attributePath.default('login'),
      fullName: attributePath.default('name'),
      email: attributePath.default('email'),
      /** Absent: the IdP says nothing about groups, and directory memberships stay as they are. */
      groups: attributePath.optional(),
    })
    .default({ externalId: 'id', username: 'login', fullName: 'name', email: 'email' }),
  /** Extra headers on the token and userinfo requests, e.g. { Accept: application/json, User-Agent: portcullis }. */
  requestHeaders: requestHeaders.default({}),
  /** Extra authorization request parameters, e.g. { allow_signup: 'false' }. */
  authorizationParams: authorizationParams.default({}),
  groupSync: groupSyncSchema,
  /** Allows http:// URLs. Local test IdPs only: codes and tokens can be read in transit. */
  insecureAllowHttp: z.boolean().default(false),
});

export type OAuth2ProviderConfig = z.output<typeof oauth2ProviderSchema>;

const URL_KEYS = ['authorizationUrl', 'tokenUrl', 'userinfoUrl'] as const;

/** Errors spanning keys of one oauth2 provider; `path` is where it sits, e.g. providers.2. */
export function oauth2ConfigIssues(config: OAuth2ProviderConfig, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of URL_KEYS) {
    if (new URL(config[key]).protocol === 'http:' && !config.insecureAllowHttp) {
      issues.push({
        path: `${path}.${key}`,
        message: 'is plain http: set insecureAllowHttp: true for a local test IdP only',
      });
    }
  }
  if (config.clientSecret === undefined && config.clientAuth === 'client_secret_basic') {
    issues.push({
      path: `${path}.clientSecret`,
      message: 'is required when clientAuth is client_secret_basic',
    });
  }
  // Without a secret, PKCE is what stops a stolen code from being redeemed (RFC 9700 §2.1.1).
  if (config.clientSecret === undefined && !config.usePkce) {
    issues.push({ path: `${path}.usePkce`, message: 'must be true for a client without clientSecret' });
  }
  return issues;
}

/** Warnings to print at start for one oauth2 provider. */
export function oauth2ConfigWarnings(config: OAuth2ProviderConfig, path: string): ConfigIssue[] {
  if (!config.insecureAllowHttp) return [];
  return [
    {
      path: `${path}.insecureAllowHttp`,
      message: 'plain-HTTP identity provider allowed: codes and tokens can be read in transit',
    },
  ];
}
