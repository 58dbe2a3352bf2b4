// Schema building blocks shared by every config section.
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { DURATION_PATTERN, parseDurationMs } from '../core/duration.js';
import { HEADER_NAME_PATTERN } from '../core/header-names.js';

export const duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration such as 30s, 15m, 8h or 7d')
  .transform((text) => parseDurationMs(text) ?? 0);

export function durationBetween(minMs: number, maxMs: number, minText: string, maxText: string) {
  return duration.refine((ms) => ms >= minMs && ms <= maxMs, `must be between ${minText} and ${maxText}`);
}

/** zod runs refinements even after the URL check failed, so they must not assume a parsable URL. */
export function parsedUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

export const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .refine((text) => {
    const url = parsedUrl(text);
    return url === null || (url.username === '' && url.password === '');
  }, 'must not carry credentials');

/** An exact hostname, or '*.example.com' / '.example.com' for every subdomain of example.com. */
export const hostPattern = z
  .string()
  .transform((text) => text.trim().toLowerCase().replace(/\.$/, ''))
  .refine(
    (text) =>
      /^(\*\.|\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$/.test(
        text,
      ),
    'must be a hostname such as app.example.com, or *.example.com for its subdomains',
  );

export const headerName = z.string().regex(HEADER_NAME_PATTERN, 'must be a valid HTTP header name');

export const pemPrivateKey = z.string().refine((pem) => {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}, 'must be a PEM private key (PKCS#8, PKCS#1 or SEC1)');

/** Provider ids name callback URLs and subjects: lowercase, URL-safe. */
export const providerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, _ or -');

/** An OpenID Connect scope list; it must include openid. */
export const oidcScopes = z
  .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token'))
  .default(['openid', 'profile', 'email'])
  .refine((scopes) => scopes.includes('openid'), 'must include openid');

const claimPath = z.string().min(1);

/** Where each identity field is read from, as a dot path into the ID token (then userinfo) claims. */
export function claimMapping(usernameClaim: string) {
  return z
    .strictObject({
      username: claimPath.default(usernameClaim),
      email: claimPath.default('email'),
      name: claimPath.default('name'),
      groups: claimPath.default('groups'),
    })
    .default({ username: usernameClaim, email: 'email', name: 'name', groups: 'groups' });
}

/** How an OpenID Connect client authenticates at the token endpoint. */
export function clientCredentialFields(defaultAuth: 'client_secret_basic' | 'client_secret_post') {
  return {
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    clientAuth: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default(defaultAuth),
    /** PEM private key for private_key_jwt (usually from privateKeyFile). RSA or EC P-256. */
    privateKey: pemPrivateKey.optional(),
    /** The kid (or certificate thumbprint) the IdP registered for privateKey. */
    privateKeyId: z.string().min(1).optional(),
  };
}
