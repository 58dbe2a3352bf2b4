// Okta: a preset that derives a generic OIDC provider config from a domain and an authorization
// server id, plus one Okta-specific check: when `audience` is set, the access token must be a JWT
// signed by the issuer for that audience (Okta custom authorization servers issue such tokens).
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { normaliseOktaDomain, type OktaProviderConfig } from '../../config/providers/okta-schema.js';
import type { OidcProviderConfig } from '../../config/schema.js';
import { LoginResponseRejected, ProviderUnavailable } from '../../core/errors.js';
import type { IdentityProvider } from '../identity-provider.js';
import { describeError } from '../login-errors.js';
import { createOidcProvider } from '../oidc/oidc-provider.js';

/** IdP calls give up after this long, so a hanging IdP cannot pile up requests. */
const IDP_TIMEOUT_SECONDS = 10;
/** Okta signs ID and access tokens with RS256 only. */
const OKTA_SIGNING_ALGORITHMS = ['RS256'];
/** Tolerated clock difference with Okta when checking exp/nbf/iat. */
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Okta's issuer: https://{domain}/oauth2/{serverId} for a custom authorization server ('default'
 * included), https://{domain} for the org authorization server (no serverId, or an empty one).
 */
export function oktaIssuer(config: Pick<OktaProviderConfig, 'domain' | 'serverId'>): string {
  const origin = `https://${normaliseOktaDomain(config.domain)}`;
  return config.serverId ? `${origin}/oauth2/${config.serverId}` : origin;
}

export function oktaToOidc(config: OktaProviderConfig): OidcProviderConfig {
  const override = config.insecureIssuerOverride;
  return {
    id: config.id,
    type: 'oidc',
    ...(config.displayName === undefined ? {} : { displayName: config.displayName }),
    issuer: override ?? oktaIssuer(config),
    clientId: config.clientId,
    ...(config.clientSecret === undefined ? {} : { clientSecret: config.clientSecret }),
    clientAuth: config.clientAuth,
    ...(config.privateKey === undefined ? {} : { privateKey: config.privateKey }),
    ...(config.privateKeyId === undefined ? {} : { privateKeyId: config.privateKeyId }),
    scopes: [...config.scopes],
    claims: { ...config.claims },
    // The org authorization server puts only a few claims in the ID token; userinfo has the rest.
    fetchUserinfo: true,
    idTokenSigningAlg: 'RS256',
    authorizationParams: {},
    groupSync: config.groupSync,
    insecureAllowHttpIssuer: override !== undefined && new URL(override).protocol === 'http:',
  };
}

export function createOktaProvider(
  config: OktaProviderConfig,
  options: { callbackUrl: string; now: () => number },
): IdentityProvider {
  const oidcConfig = oktaToOidc(config);
  if (config.audience === undefined) return createOidcProvider(oidcConfig, options);
  const verify = createAccessTokenVerifier({ audience: config.audience, now: options.now });
  return createOidcProvider(oidcConfig, {
    ...options,
    checkLoginAccessToken: (token, oidc) => verify(token, oidc.serverMetadata()),
  });
}

export type AccessTokenVerifier = (
  accessToken: string,
  server: Pick<client.ServerMetadata, 'issuer' | 'jwks_uri'>,
) => Promise<void>;

/**
 * Checks that an access token is a JWT signed with a key from the issuer's JWKS, issued by that
 * issuer, for `audience`, and not expired. Throws LoginResponseRejected when it is not, and
 * ProviderUnavailable when the keys cannot be fetched.
 */
export function createAccessTokenVerifier(expected: {
  audience: string;
  now: () => number;
}): AccessTokenVerifier {
  // One remote key set per jwks_uri, so keys are cached across logins (jose refetches on an unknown kid).
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  return async (accessToken, server) => {
    if (server.jwks_uri === undefined) {
      throw new LoginResponseRejected(
        `${server.issuer} publishes no jwks_uri: its access tokens cannot be verified`,
      );
    }
    let keySet = keySets.get(server.jwks_uri);
    if (keySet === undefined) {
      keySet = createRemoteJWKSet(new URL(server.jwks_uri), { timeoutDuration: IDP_TIMEOUT_SECONDS * 1000 });
      keySets.set(server.jwks_uri, keySet);
    }
    try {
      await jwtVerify(accessToken, keySet, {
        issuer: server.issuer,
        audience: expected.audience,
        algorithms: OKTA_SIGNING_ALGORITHMS,
        requiredClaims: ['exp'],
        currentDate: new Date(expected.now()),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
    } catch (err) {
      throw classifyAccessTokenError(err);
    }
  };
}

function classifyAccessTokenError(err: unknown): LoginResponseRejected | ProviderUnavailable {
  // JWKSTimeout, and the generic JOSEError jose throws for a non-200 or non-JSON key set response,
  // mean the keys could not be had; network failures are not JOSE errors at all.
  const isKeyFetchFailure =
    !(err instanceof joseErrors.JOSEError) ||
    err instanceof joseErrors.JWKSTimeout ||
    err.code === joseErrors.JOSEError.code;
  if (isKeyFetchFailure) {
    return new ProviderUnavailable(
      `the access token signing keys could not be fetched: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  return new LoginResponseRejected(`access token refused: ${describeError(err)}`, { cause: err });
}
