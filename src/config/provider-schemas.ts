// One schema per provider type; the discriminated union picks by `type`.
import { z } from 'zod';
import { groupSyncSchema } from './group-sync-schema.js';
import { entraProviderSchema } from './providers/entra-schema.js';
import { oauth2ProviderSchema } from './providers/oauth2-schema.js';
import { oktaProviderSchema } from './providers/okta-schema.js';
import { samlProviderSchema } from './providers/saml-schema.js';
import { httpUrl, pemPrivateKey } from './schema-parts.js';

const claimPath = z.string().min(1);

export const oidcProviderSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, _ or -'),
  type: z.literal('oidc'),
  displayName: z.string().min(1).optional(),
  issuer: httpUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  clientAuth: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
    .default('client_secret_basic'),
  /** PEM private key for private_key_jwt (usually from privateKeyFile). RSA or EC P-256. */
  privateKey: pemPrivateKey.optional(),
  /** The kid the IdP registered for privateKey. */
  privateKeyId: z.string().min(1).optional(),
  /** The full scope list; must include openid. */
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token'))
    .default(['openid', 'profile', 'email'])
    .refine((scopes) => scopes.includes('openid'), 'must include openid'),
  /** Where each identity field is read from, as a dot path into the ID token (then userinfo) claims. */
  claims: z
    .strictObject({
      username: claimPath.default('sub'),
      email: claimPath.default('email'),
      name: claimPath.default('name'),
      groups: claimPath.default('groups'),
    })
    .default({ username: 'sub', email: 'email', name: 'name', groups: 'groups' }),
  /** Fetch userinfo after the code exchange (claims the ID token lacks are taken from it). */
  fetchUserinfo: z.boolean().default(true),
  /** The only ID token signature algorithm accepted (no 'none', no HS* with a public key). */
  idTokenSigningAlg: z
    .enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'])
    .default('RS256'),
  /** Extra authorization request parameters, e.g. { prompt: login }. */
  authorizationParams: z.record(z.string(), z.string()).default({}),
  groupSync: groupSyncSchema,
  /** Allows an http:// issuer. Local test IdPs only: tokens can be read or forged in transit. */
  insecureAllowHttpIssuer: z.boolean().default(false),
});

export const providerSchema = z.discriminatedUnion('type', [
  oidcProviderSchema,
  oktaProviderSchema,
  oauth2ProviderSchema,
  entraProviderSchema,
  samlProviderSchema,
]);
