// One schema per provider type; the discriminated union picks by `type`.
import { z } from 'zod';
import { groupSyncSchema } from './group-sync-schema.js';
import { entraProviderSchema } from './providers/entra-schema.js';
import { oauth2ProviderSchema } from './providers/oauth2-schema.js';
import { oktaProviderSchema } from './providers/okta-schema.js';
import { samlProviderSchema } from './providers/saml-schema.js';
import { claimMapping, clientCredentialFields, httpUrl, oidcScopes, providerId } from './schema-parts.js';

export const oidcProviderSchema = z.strictObject({
  id: providerId,
  type: z.literal('oidc'),
  displayName: z.string().min(1).optional(),
  issuer: httpUrl,
  ...clientCredentialFields('client_secret_basic'),
  /** The full scope list; must include openid. */
  scopes: oidcScopes,
  /** Where each identity field is read from, as a dot path into the ID token (then userinfo) claims. */
  claims: claimMapping('sub'),
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

/** Every provider `type:` the gateway knows, in the union's order (for messages). */
export const PROVIDER_TYPES: readonly string[] = providerSchema.options.map(
  (option) => option.shape.type.value,
);
