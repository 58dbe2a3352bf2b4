// A plain OAuth 2.0 provider (RFC 6749 authorization code grant) for IdPs without OpenID Connect,
// such as GitHub's OAuth apps. There is no ID token to verify: the user is whoever the userinfo API
// says owns the access token, and that token came straight from the token endpoint over TLS in
// exchange for a code bound to this browser by state (and PKCE).
import { saysVerified } from '../../core/email.js';
import * as client from 'openid-client';
import type { OAuth2ProviderConfig } from '../../config/providers/oauth2-schema.js';
import { LoginResponseRejected, ProviderUnavailable } from '../../core/errors.js';
import type { ExternalIdentity } from '../../core/identity.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { FinishedLogin, IdentityProvider, LoginStart } from '../identity-provider.js';
import { classifyLoginError, describeError } from '../login-errors.js';
import { claimAsGroups, claimAsString, readClaim } from '../oidc/claims.js';
import { secretClientAuth } from '../oidc/client-auth.js';
import { allowPlainHttp } from '../oidc/oidc-flow.js';

/** IdP calls give up after this long, so a hanging IdP cannot pile up requests. */
const IDP_TIMEOUT_SECONDS = 10;

export function createOAuth2Provider(
  config: OAuth2ProviderConfig,
  options: { callbackUrl: string; now: () => number },
): IdentityProvider {
  const oauth = configurationFor(config);

  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    callbackUrl: options.callbackUrl,

    async startLogin(returnTo: string, now: number): Promise<LoginStart> {
      const pending: PendingLogin = {
        providerId: config.id,
        state: client.randomState(),
        // Plain OAuth 2.0 has no ID token to carry a nonce; the field is kept so every pending
        // login has the same shape.
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        returnTo,
        createdAt: now,
      };
      const parameters: Record<string, string> = {
        ...config.authorizationParams,
        redirect_uri: options.callbackUrl,
        response_type: 'code',
        state: pending.state,
      };
      if (config.scopes.length > 0) parameters.scope = config.scopes.join(' ');
      if (config.usePkce) {
        parameters.code_challenge = await client.calculatePKCECodeChallenge(pending.codeVerifier);
        parameters.code_challenge_method = 'S256';
      }
      return { authorizationUrl: client.buildAuthorizationUrl(oauth, parameters), pending };
    },

    async finishLogin(callbackUrl: URL, pending: PendingLogin): Promise<FinishedLogin> {
      try {
        const checks: client.AuthorizationCodeGrantChecks = {
          expectedState: pending.state,
          idTokenExpected: false,
        };
        if (config.usePkce) checks.pkceCodeVerifier = pending.codeVerifier;
        const tokens = await client.authorizationCodeGrant(oauth, callbackUrl, checks);
        const profile = await fetchProfile(config, oauth, tokens.access_token);
        return { external: externalIdentityFromProfile(config, profile) };
      } catch (err) {
        throw classifyLoginError(config.id, err);
      }
    },

    // Plain OAuth 2.0 has no logout endpoint; the IdP session outlives the gateway's.
    endSessionUrl() {
      return Promise.resolve(undefined);
    },
  };
}

/** openid-client's generic OAuth 2.0 support: the endpoints are configured, nothing is discovered. */
function configurationFor(config: OAuth2ProviderConfig): client.Configuration {
  const server: client.ServerMetadata = {
    // Plain OAuth 2.0 IdPs have no issuer identifier. openid-client needs one, and compares it only
    // with an `iss` on the authorization response (RFC 9207), which such IdPs do not send.
    issuer: new URL(config.authorizationUrl).origin,
    authorization_endpoint: config.authorizationUrl,
    token_endpoint: config.tokenUrl,
    userinfo_endpoint: config.userinfoUrl,
  };
  // A client without a secret is a public client (PKCE required by the config checks): only client_id is sent.
  const clientAuth =
    config.clientSecret === undefined
      ? client.None()
      : secretClientAuth(config.clientAuth, config.clientSecret);
  const oauth = new client.Configuration(server, config.clientId, {}, clientAuth);
  oauth.timeout = IDP_TIMEOUT_SECONDS;
  oauth[client.customFetch] = fetchWithHeaders(config.requestHeaders, new URL(config.tokenUrl));
  if (config.insecureAllowHttp) allowPlainHttp(oauth);
  return oauth;
}

/** Every request openid-client makes (token and userinfo) carries the configured headers and a timeout. */
function fetchWithHeaders(extraHeaders: Readonly<Record<string, string>>, tokenUrl: URL): client.CustomFetch {
  return async (url, options) => {
    const headers = new Headers(options.headers);
    for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
    const init: RequestInit = {
      method: options.method,
      headers,
      redirect: options.redirect,
      signal: options.signal ?? AbortSignal.timeout(IDP_TIMEOUT_SECONDS * 1000),
    };
    if (options.body !== undefined) init.body = options.body;
    const response = await fetch(url, init);
    const target = new URL(url);
    const isTokenRequest = target.origin === tokenUrl.origin && target.pathname === tokenUrl.pathname;
    return isTokenRequest ? withErrorStatus(response) : response;
  };
}

/**
 * GitHub answers token errors with HTTP 200 and an { error } body instead of RFC 6749 §5.2's 400.
 * Given the 400, openid-client reports the IdP's error code (bad_verification_code,
 * incorrect_client_credentials) rather than "access_token must be a string".
 */
async function withErrorStatus(response: Response): Promise<Response> {
  if (response.status !== 200 || !/\bjson\b/i.test(response.headers.get('content-type') ?? ''))
    return response;
  const text = await response.text();
  const rebuilt = (status: number) => new Response(text, { status, headers: response.headers });
  try {
    const body: unknown = JSON.parse(text);
    const isError =
      body !== null &&
      typeof body === 'object' &&
      typeof (body as Record<string, unknown>)['error'] === 'string';
    return rebuilt(isError && !('access_token' in body) ? 400 : 200);
  } catch {
    return rebuilt(200); // not JSON after all: openid-client reports that
  }
}

/**
 * The userinfo JSON. openid-client's fetchUserInfo is not used: it expects an OIDC response with a
 * `sub` matching an ID token, and plain OAuth 2.0 APIs (GitHub's /user) have neither.
 */
async function fetchProfile(
  config: OAuth2ProviderConfig,
  oauth: client.Configuration,
  accessToken: string,
): Promise<Record<string, unknown>> {
  const headers = new Headers({ accept: 'application/json' });
  const response = await client.fetchProtectedResource(
    oauth,
    accessToken,
    new URL(config.userinfoUrl),
    'GET',
    undefined,
    headers,
  );
  if (response.status >= 500 || response.status === 429) {
    throw new ProviderUnavailable(`${config.id} userinfo answered ${response.status}`);
  }
  if (response.status !== 200) {
    // 401/403: the token was refused (revoked, wrong scope); anything else is not an answer either.
    throw new LoginResponseRejected(`${config.id} userinfo refused the access token: ${response.status}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch (err) {
    throw new LoginResponseRejected(`${config.id} userinfo is not JSON: ${describeError(err)}`, {
      cause: err,
    });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new LoginResponseRejected(`${config.id} userinfo is not a JSON object`);
  }
  return body as Record<string, unknown>;
}

export function externalIdentityFromProfile(
  config: Pick<OAuth2ProviderConfig, 'id' | 'attributes'>,
  profile: Readonly<Record<string, unknown>>,
): ExternalIdentity {
  const { attributes } = config;
  const externalId = claimAsString(readClaim(profile, attributes.externalId));
  if (externalId === null) {
    // Users are matched on (provider, externalId): without it there is nobody to sign in.
    throw new LoginResponseRejected(`${config.id} userinfo has no '${attributes.externalId}'`);
  }
  // Google's v2 userinfo says `verified_email`, OIDC-shaped APIs `email_verified`: an address the
  // IdP says it has not verified must not match policies.
  const denies = (claim: unknown) => claim !== undefined && !saysVerified(claim);
  const isUnverified = denies(profile['email_verified']) || denies(profile['verified_email']);
  return {
    providerId: config.id,
    externalId,
    username: claimAsString(readClaim(profile, attributes.username)) ?? externalId,
    email: isUnverified ? null : claimAsString(readClaim(profile, attributes.email)),
    name: claimAsString(readClaim(profile, attributes.fullName)),
    groups:
      attributes.groups === undefined ? undefined : claimAsGroups(readClaim(profile, attributes.groups)),
  };
}
