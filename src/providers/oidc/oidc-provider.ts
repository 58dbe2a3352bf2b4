// A generic OpenID Connect provider on openid-client: discovery, authorization code with PKCE S256,
// state and nonce bound to the browser's session, three client authentication methods, and identity
// fields read from ID token (then userinfo) claims.
import { saysVerified } from '../../core/email.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { OidcProviderConfig } from '../../config/schema.js';
import { BearerTokenRejected, LoginResponseRejected } from '../../core/errors.js';
import type { ExternalIdentity } from '../../core/identity.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { FinishedLogin, IdentityProvider, LoginStart } from '../identity-provider.js';
import { classifyLoginError, describeError } from '../login-errors.js';
import { claimAsGroups, claimAsString, readFirst } from './claims.js';
import { createClientAuth } from './client-auth.js';
import { allowPlainHttp, lazyDiscovery, startAuthorizationCodeFlow } from './oidc-flow.js';

/** IdP calls give up after this long, so a hanging IdP cannot pile up requests. */
const IDP_TIMEOUT_SECONDS = 10;
/** Asymmetric algorithms only: no 'none', no HS* (a public key must never act as an HMAC secret). */
const ACCESS_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
] as const;

export function createOidcProvider(
  config: OidcProviderConfig,
  options: {
    callbackUrl: string;
    now: () => number;
    /** Runs after the code exchange, before identity mapping; throws a GatewayError to refuse the login (Okta's audience check). */
    checkLoginAccessToken?: (accessToken: string, oidc: client.Configuration) => Promise<void>;
  },
): IdentityProvider {
  let jwks: ReturnType<typeof createRemoteJWKSet> | null = null;

  const configuration = lazyDiscovery(() => discover(config), {
    providerId: config.id,
    issuer: config.issuer,
    now: options.now,
  });

  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    callbackUrl: options.callbackUrl,

    async startLogin(returnTo: string, now: number): Promise<LoginStart> {
      return startAuthorizationCodeFlow(await configuration(), {
        providerId: config.id,
        callbackUrl: options.callbackUrl,
        scopes: config.scopes,
        returnTo,
        now,
        extraParams: config.authorizationParams,
      });
    },

    async finishLogin(callbackUrl: URL, pending: PendingLogin): Promise<FinishedLogin> {
      const oidc = await configuration();
      try {
        const tokens = await client.authorizationCodeGrant(oidc, callbackUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
        if (options.checkLoginAccessToken !== undefined)
          await options.checkLoginAccessToken(tokens.access_token, oidc);
        const idClaims = tokens.claims();
        if (idClaims === undefined) throw new LoginResponseRejected('token response without an ID token');
        const sources: Array<Record<string, unknown>> = [idClaims];
        if (config.fetchUserinfo && oidc.serverMetadata().userinfo_endpoint !== undefined) {
          // expectedSubject: userinfo for another user than the ID token names is refused.
          sources.push(await client.fetchUserInfo(oidc, tokens.access_token, idClaims.sub));
        }
        const external = externalIdentityFrom(config, idClaims.sub, sources);
        return tokens.id_token === undefined ? { external } : { external, idToken: tokens.id_token };
      } catch (err) {
        throw classifyLoginError(config.id, err);
      }
    },

    async verifyAccessToken(token, audience) {
      const oidc = await configuration();
      const metadata = oidc.serverMetadata();
      if (metadata.jwks_uri === undefined) throw new BearerTokenRejected(`${config.id} publishes no JWKS`);
      jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri), {
        timeoutDuration: IDP_TIMEOUT_SECONDS * 1000,
      });
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: metadata.issuer,
          audience,
          algorithms: [...ACCESS_TOKEN_ALGORITHMS],
          requiredClaims: ['sub', 'exp'],
          clockTolerance: 30,
        });
        return externalIdentityFrom(config, String(payload.sub), [payload]);
      } catch (err) {
        throw new BearerTokenRejected(`${config.id} access token refused: ${describeError(err)}`, {
          cause: err,
        });
      }
    },

    async endSessionUrl(idToken, postLogoutRedirectUri) {
      let oidc: client.Configuration;
      try {
        oidc = await configuration();
      } catch {
        return undefined; // the local session is gone either way; the IdP one may outlive it
      }
      if (oidc.serverMetadata().end_session_endpoint === undefined) return undefined;
      const parameters: Record<string, string> = {
        post_logout_redirect_uri: postLogoutRedirectUri,
        client_id: config.clientId,
      };
      if (idToken !== undefined) parameters.id_token_hint = idToken;
      return client.buildEndSessionUrl(oidc, parameters);
    },
  };
}

async function discover(config: OidcProviderConfig): Promise<client.Configuration> {
  const metadata: Partial<client.ClientMetadata> = {
    client_id: config.clientId,
    token_endpoint_auth_method: config.clientAuth,
    id_token_signed_response_alg: config.idTokenSigningAlg,
  };
  const execute: Array<(c: client.Configuration) => void> = [
    // openid-client skips the ID token signature check for tokens from the token endpoint by
    // default (OIDC Core §3.1.3.7 allows it over TLS). A gateway verifies: a tampered token
    // must never become a session.
    client.enableNonRepudiationChecks,
  ];
  if (config.insecureAllowHttpIssuer) execute.push(allowPlainHttp);
  return client.discovery(new URL(config.issuer), config.clientId, metadata, await createClientAuth(config), {
    execute,
    timeout: IDP_TIMEOUT_SECONDS,
  });
}

export function externalIdentityFrom(
  config: Pick<OidcProviderConfig, 'id' | 'claims'>,
  subject: string,
  sources: ReadonlyArray<Record<string, unknown>>,
): ExternalIdentity {
  // An IdP that does not say yes (true, or "true") when asked has not vouched for the address:
  // "false", 0 or "no" mean unverified, and policies must not match on it.
  const emailVerified = readFirst(sources, 'email_verified');
  const email =
    emailVerified !== undefined && !saysVerified(emailVerified)
      ? null
      : claimAsString(readFirst(sources, config.claims.email));
  return {
    providerId: config.id,
    externalId: subject,
    username: claimAsString(readFirst(sources, config.claims.username)) ?? subject,
    email,
    name: claimAsString(readFirst(sources, config.claims.name)),
    groups: claimAsGroups(readFirst(sources, config.claims.groups)),
  };
}
