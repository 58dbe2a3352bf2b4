// Microsoft Entra ID (type: entra): OpenID Connect against {authorityHost}/{tenant}/v2.0. This file
// is the provider: discovery, the code exchange and ID token verification, identity mapping. Which
// tenant and issuer a token must name is tenant-rules.ts; the user's groups through Microsoft Graph
// (names, overage) are graph-groups.ts, with Graph's app-only token from app-token.ts; the client
// authentication is the one every OIDC provider uses (oidc/client-auth.ts).
import { saysVerified } from '../../core/email.js';
import { createRemoteJWKSet, customFetch as joseCustomFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import * as client from 'openid-client';
import { entraUrlsFor, type EntraProviderConfig } from '../../config/providers/entra-schema.js';
import { LoginErrorFromProvider, LoginResponseRejected, ProviderUnavailable } from '../../core/errors.js';
import type { ExternalIdentity } from '../../core/identity.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { FinishedLogin, IdentityProvider, LoginStart } from '../identity-provider.js';
import { classifyLoginError, describeError } from '../login-errors.js';
import { claimAsString } from '../oidc/claims.js';
import { createClientAuth } from '../oidc/client-auth.js';
import { allowPlainHttp, lazyDiscovery, startAuthorizationCodeFlow } from '../oidc/oidc-flow.js';
import { externalIdentityFrom } from '../oidc/oidc-provider.js';
import { createAppTokens } from './app-token.js';
import { createGraphGroups } from './graph-groups.js';
import { readJsonObject } from './json-object.js';
import { checkHomeTenant, externalIdOf, homeTenantOf, tenantOfVerifiedToken } from './tenant-rules.js';

/** IdP calls give up after this long, so a hanging IdP cannot pile up logins. */
const IDP_TIMEOUT_SECONDS = 10;
/** Allowed clock difference with Entra on exp/nbf, as openid-client allows on the single-tenant path. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Entra signs ID tokens with RS256 only. */
const ID_TOKEN_ALGORITHM = 'RS256';

export interface EntraProviderOptions {
  callbackUrl: string;
  now: () => number;
  log?: { warn(obj: object, msg: string): void };
  /** Every outbound request (discovery, tokens, keys, Graph) goes through this; tests point it at fakes. */
  fetch?: typeof fetch;
}

export type EntraProvider = IdentityProvider & {
  /** Graph lookups that failed since start (each left one login's groups unchanged). */
  readonly graphFailures: number;
};

interface Discovered {
  oidc: client.Configuration;
  /** Single tenant: the tenant GUID every ID token must name in `tid`. Multi-tenant: null. */
  homeTenantId: string | null;
  /** Multi-tenant only: the keys the ID tokens are verified with here (see redeemMultiTenant). */
  jwks: JWTVerifyGetKey | null;
}

interface VerifiedLogin {
  claims: Readonly<Record<string, unknown>>;
  /** The verified `tid`: the tenant the user signed in to, whose Graph holds their groups. */
  tenantId: string;
  idToken: string;
}

export function createEntraProvider(
  config: EntraProviderConfig,
  options: EntraProviderOptions,
): EntraProvider {
  const urls = entraUrlsFor(config);
  const httpFetch: typeof fetch = options.fetch ?? fetch;

  let clientAuthentication: Promise<client.ClientAuth> | null = null;
  const graph = createGraphGroups({
    config,
    graphBaseUrl: urls.graphBaseUrl,
    appTokens: createAppTokens({
      clientId: config.clientId,
      authorityHost: urls.authorityHost,
      graphBaseUrl: urls.graphBaseUrl,
      clientAuth,
      prepare,
      now: options.now,
    }),
    fetch: httpFetch,
    now: options.now,
    log: options.log,
  });

  // -------------------------------------------------------------------------------------------
  // Discovery and client authentication

  const discovery = lazyDiscovery(discover, { providerId: config.id, issuer: urls.issuer, now: options.now });

  // The discovery document is fetched here and handed to the Configuration constructor, the alternative
  // to discovery() that openid-client documents as skipping its issuer check. homeTenantOf does that
  // check instead, because Entra's issuer legitimately differs from the discovery URL (tenant-rules.ts).
  async function discover(): Promise<Discovered> {
    const response = await httpFetch(`${urls.issuer}/.well-known/openid-configuration`, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(IDP_TIMEOUT_SECONDS * 1000),
    });
    if (response.status !== 200) throw new Error(`discovery answered HTTP ${response.status}`);
    const metadata = await readJsonObject(response);
    const issuer = metadata['issuer'];
    if (typeof issuer !== 'string') throw new Error('discovery document has no issuer');
    const homeTenantId = homeTenantOf(issuer, urls, config.tenantId);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      const value = metadata[key];
      if (typeof value !== 'string') throw new Error(`discovery document has no ${key}`);
      assertAllowedUrl(value, key);
    }
    const server = metadata as unknown as client.ServerMetadata;
    const oidc = new client.Configuration(
      server,
      config.clientId,
      { id_token_signed_response_alg: ID_TOKEN_ALGORITHM },
      await clientAuth(),
    );
    prepare(oidc);
    // openid-client skips the ID token signature check for tokens from the token endpoint by default
    // (OIDC Core §3.1.3.7 allows it over TLS). A gateway verifies: a tampered token must never become a session.
    client.enableNonRepudiationChecks(oidc);
    const jwks =
      homeTenantId === null
        ? createRemoteJWKSet(new URL(server.jwks_uri as string), joseFetchOptions())
        : null;
    return { oidc, homeTenantId, jwks };
  }

  function assertAllowedUrl(value: string, what: string): void {
    const url = new URL(value);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && config.insecureAllowHttp)) {
      throw new Error(`${what} ${url.origin} is not https`);
    }
  }

  /** Timeout, fetch and transport rules every openid-client Configuration here shares. */
  function prepare(oidc: client.Configuration): void {
    oidc.timeout = IDP_TIMEOUT_SECONDS;
    if (options.fetch !== undefined) oidc[client.customFetch] = openidFetch(options.fetch);
    if (config.insecureAllowHttp) allowPlainHttp(oidc);
  }

  function joseFetchOptions(): Parameters<typeof createRemoteJWKSet>[1] {
    const jwksOptions: NonNullable<Parameters<typeof createRemoteJWKSet>[1]> = {
      timeoutDuration: IDP_TIMEOUT_SECONDS * 1000,
    };
    if (options.fetch !== undefined) jwksOptions[joseCustomFetch] = options.fetch;
    return jwksOptions;
  }

  function clientAuth(): Promise<client.ClientAuth> {
    clientAuthentication ??= createClientAuth(config, { entra: true });
    return clientAuthentication;
  }

  // -------------------------------------------------------------------------------------------
  // Login

  async function redeemSingleTenant(
    found: Discovered,
    callbackUrl: URL,
    pending: PendingLogin,
    homeTenantId: string,
  ): Promise<VerifiedLogin> {
    const tokens = await client.authorizationCodeGrant(found.oidc, callbackUrl, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined || tokens.id_token === undefined) {
      throw new LoginResponseRejected('token response without an ID token');
    }
    checkHomeTenant(claims, homeTenantId);
    return { claims, tenantId: homeTenantId, idToken: tokens.id_token };
  }

  // Multi-tenant (organizations/common). Each token's issuer is {authorityHost}/{its tid}/v2.0, while
  // openid-client compares an ID token's `iss` with the configuration's issuer exactly, and offers no
  // documented way to supply the expected issuer per token. (Its built-in Entra handling is internal:
  // an undocumented symbol set only for the origin https://login.microsoftonline.com, so neither the US
  // Government cloud nor a test IdP gets it.) So the code exchange is done here, and the ID token is
  // verified with jose, in this order:
  //   1. the callback: state, error, code, and an RFC 9207 `iss` kept to compare after step 3;
  //   2. the token request, authenticated by openid-client's own ClientAuth implementation, with PKCE;
  //   3. jose: RS256 signature by a key of the discovered jwks_uri, aud = clientId, exp/nbf/iat;
  //   4. only then the claims of the verified payload: nonce, then the tenant (tenantOfVerifiedToken):
  //      tid a GUID, iss = the template with that tid, allowedTenants.
  // No unverified token data chooses a key or an issuer.
  async function redeemMultiTenant(
    found: Discovered,
    callbackUrl: URL,
    pending: PendingLogin,
  ): Promise<VerifiedLogin> {
    const callback = readCallback(callbackUrl, pending.state);
    const server = found.oidc.serverMetadata();
    const tokenEndpoint = server.token_endpoint as string;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.code,
      redirect_uri: options.callbackUrl,
      code_verifier: pending.codeVerifier,
    });
    const headers = new Headers({ accept: 'application/json' });
    const authenticate = await clientAuth();
    // ClientAuth's declared return type is void; private_key_jwt's is in fact a promise, so it is awaited.
    const authenticateMaybeAsync = authenticate as (
      ...args: Parameters<client.ClientAuth>
    ) => Promise<void> | undefined;
    await authenticateMaybeAsync(server, found.oidc.clientMetadata(), body, headers);
    let response: Response;
    try {
      response = await httpFetch(tokenEndpoint, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(IDP_TIMEOUT_SECONDS * 1000),
      });
    } catch (err) {
      const reason = describeError(err);
      throw new ProviderUnavailable(`${config.id} token endpoint unreachable: ${reason}`, { cause: err });
    }
    const tokenResponse = await readJsonObject(response).catch((): Record<string, unknown> => ({}));
    if (response.status !== 200) {
      const error = tokenResponse['error'];
      if (response.status >= 400 && response.status < 500 && typeof error === 'string') {
        throw new LoginResponseRejected(`${config.id} refused the token request: error=${error}`);
      }
      throw new ProviderUnavailable(`${config.id} token endpoint answered HTTP ${response.status}`);
    }
    const idToken = tokenResponse['id_token'];
    if (typeof idToken !== 'string') throw new LoginResponseRejected('token response without an ID token');
    if (found.jwks === null) throw new Error('multi-tenant discovery without keys');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, found.jwks, {
        algorithms: [ID_TOKEN_ALGORITHM],
        audience: config.clientId,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'tid', 'nonce'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError && !(err instanceof joseErrors.JWKSTimeout)) {
        throw new LoginResponseRejected(`${config.id} ID token failed verification: ${describeError(err)}`, {
          cause: err,
        });
      }
      throw new ProviderUnavailable(`${config.id} signing keys could not be fetched: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (payload['nonce'] !== pending.nonce) throw new LoginResponseRejected('ID token nonce does not match');
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload['azp'] !== config.clientId) {
      throw new LoginResponseRejected('ID token for several audiences without azp naming this client');
    }
    const tid = tenantOfVerifiedToken(payload, callback.iss, {
      providerId: config.id,
      authorityHost: urls.authorityHost,
      allowedTenants: config.allowedTenants,
    });
    return { claims: payload, tenantId: tid, idToken };
  }

  function readCallback(callbackUrl: URL, expectedState: string): { code: string; iss: string | undefined } {
    const params = callbackUrl.searchParams;
    for (const name of ['state', 'code', 'error', 'iss']) {
      if (params.getAll(name).length > 1) throw new LoginResponseRejected(`callback repeats ${name}`);
    }
    if (params.has('response')) throw new LoginResponseRejected('callback carries a JARM response');
    if (params.get('state') !== expectedState) {
      throw new LoginResponseRejected('callback state does not match');
    }
    const error = params.get('error');
    if (error !== null) {
      throw new LoginErrorFromProvider(
        `${config.id} answered error=${error}: ${params.get('error_description') ?? ''}`,
      );
    }
    if (params.has('id_token') || params.has('access_token')) {
      throw new LoginResponseRejected('callback carries tokens (implicit or hybrid flow)');
    }
    const code = params.get('code');
    if (code === null || code === '') throw new LoginResponseRejected('callback without a code');
    const iss = params.get('iss');
    return { code, iss: iss ?? undefined };
  }

  async function identityFrom(login: VerifiedLogin): Promise<ExternalIdentity> {
    const { claims, tenantId } = login;
    const localId = claimAsString(claims['oid']) ?? claimAsString(claims['sub']);
    if (localId === null) throw new LoginResponseRejected('ID token has neither oid nor sub');
    const externalId = externalIdOf(localId, tenantId, urls.isMultiTenant);
    const base = externalIdentityFrom(config, externalId, [claims]);
    // xms_edov (optional claim): false when the email's domain is not verified by the tenant.
    const verifiedDomain = claims['xms_edov'];
    const email = verifiedDomain !== undefined && !saysVerified(verifiedDomain) ? null : base.email;
    return { ...base, email, groups: await graph.groupsOf(claims, tenantId) };
  }

  // -------------------------------------------------------------------------------------------
  // The port

  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    callbackUrl: options.callbackUrl,

    get graphFailures() {
      return graph.failures;
    },

    async startLogin(returnTo: string, now: number): Promise<LoginStart> {
      const { oidc } = await discovery();
      return startAuthorizationCodeFlow(oidc, {
        providerId: config.id,
        callbackUrl: options.callbackUrl,
        scopes: config.scopes,
        returnTo,
        now,
      });
    },

    async finishLogin(callbackUrl: URL, pending: PendingLogin): Promise<FinishedLogin> {
      const found = await discovery();
      try {
        const login =
          found.homeTenantId === null
            ? await redeemMultiTenant(found, callbackUrl, pending)
            : await redeemSingleTenant(found, callbackUrl, pending, found.homeTenantId);
        return { external: await identityFrom(login), idToken: login.idToken };
      } catch (err) {
        throw classifyLoginError(config.id, err);
      }
    },

    async endSessionUrl(idToken, postLogoutRedirectUri) {
      let found: Discovered;
      try {
        found = await discovery();
      } catch {
        return undefined; // the local session is gone either way; the Entra one may outlive it
      }
      if (found.oidc.serverMetadata().end_session_endpoint === undefined) return undefined;
      const parameters: Record<string, string> = {
        post_logout_redirect_uri: postLogoutRedirectUri,
        client_id: config.clientId,
      };
      if (idToken !== undefined) parameters.id_token_hint = idToken;
      return client.buildEndSessionUrl(found.oidc, parameters);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function openidFetch(fetchImplementation: typeof fetch): client.CustomFetch {
  return (url, request) => {
    const init: RequestInit = {
      method: request.method,
      headers: request.headers,
      redirect: request.redirect,
    };
    if (request.body !== undefined) init.body = request.body as Exclude<RequestInit['body'], undefined>;
    if (request.signal !== undefined) init.signal = request.signal;
    return fetchImplementation(url, init);
  };
}
