// Microsoft Entra ID (type: entra): OpenID Connect against {authorityHost}/{tenant}/v2.0, with the
// user's groups taken from the ID token's object IDs and resolved to display names through Microsoft
// Graph, or fetched from Graph when the token only carries the groups overage claim.
//
// Graph permissions (application, admin-consented, in every tenant whose users sign in):
// - GroupMember.Read.All: reading a user's transitive group memberships (the overage case).
// - directoryObject getByIds (resolving IDs to names) documents Directory.Read.All as its application
//   permission. Without it those lookups fail and logins keep the user's current groups (see below).
//
// Whatever Graph does, a login never fails because of it: a Graph failure yields `groups: undefined`
// ("the IdP said nothing about groups", so the directory keeps the user's memberships), a warning in
// the log (never a token) and one more in `graphFailures`.
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, customFetch as joseCustomFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import * as client from 'openid-client';
import {
  entraUrlsFor,
  GUID_PATTERN,
  PERSONAL_ACCOUNTS_TENANT_ID,
  type EntraProviderConfig,
} from '../../config/providers/entra-schema.js';
import {
  AccessDenied,
  LoginErrorFromProvider,
  LoginResponseRejected,
  ProviderUnavailable,
} from '../../core/errors.js';
import type { ExternalIdentity } from '../../core/identity.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { FinishedLogin, IdentityProvider, LoginStart } from '../identity-provider.js';
import { classifyLoginError, describeError } from '../login-errors.js';
import { claimAsGroups, claimAsString, readClaim } from '../oidc/claims.js';
import { importClientSigningKey, lazyDiscovery, startAuthorizationCodeFlow } from '../oidc/oidc-flow.js';
import { externalIdentityFrom } from '../oidc/oidc-provider.js';

/** IdP and Graph calls give up after this long, so a hanging service cannot pile up logins. */
const IDP_TIMEOUT_SECONDS = 10;
const GRAPH_TIMEOUT_MS = 10_000;
/** Allowed clock difference with Entra on exp/nbf, as openid-client allows on the single-tenant path. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Entra signs ID tokens with RS256 only. */
const ID_TOKEN_ALGORITHM = 'RS256';
/** The placeholder in a multi-tenant discovery document's issuer. */
const TENANT_PLACEHOLDER = '{tenantid}';

// Microsoft Graph throttling guidance: on 429 (and 503) wait Retry-After seconds, then retry. A login
// waits at most this much in total, over at most this many retries per request, then gives up.
const GRAPH_MAX_RETRIES = 3;
const GRAPH_MAX_WAIT_MS = 10_000;
/** Without a usable Retry-After: 1 s, 2 s, 4 s. */
const GRAPH_DEFAULT_BACKOFF_MS = 1_000;
/** getByIds takes at most 1000 IDs per call (directoryObject: getByIds, request body). */
const GET_BY_IDS_MAX_IDS = 1_000;
/** transitiveMemberOf pages hold at most 999 objects; 50 pages is ~50k groups, far past any real user. */
const GRAPH_MAX_PAGES = 50;
/** Bounds memory in multi-tenant setups; the oldest entries go first. */
const GROUP_NAME_CACHE_MAX_ENTRIES = 50_000;
const TENANT_CACHE_MAX_ENTRIES = 1_000;
/** An app token is renewed this long (at most half its lifetime) before it expires. */
const APP_TOKEN_RENEW_BEFORE_MS = 60_000;

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

type GraphStep = 'token' | 'getByIds' | 'transitiveMemberOf';

/** A Graph call that failed; its message and fields never include a token. */
class GraphCallFailed extends Error {
  readonly step: GraphStep;
  readonly status: number | null;
  readonly graphError: string | null;
  constructor(step: GraphStep, status: number | null, graphError: string | null, detail: string) {
    super(`${step}: ${detail}`);
    this.name = 'GraphCallFailed';
    this.step = step;
    this.status = status;
    this.graphError = graphError;
  }
}

/** Per login: how long Graph throttling has already made it wait. */
interface WaitBudget {
  waitedMs: number;
}

export function createEntraProvider(
  config: EntraProviderConfig,
  options: EntraProviderOptions,
): EntraProvider {
  const urls = entraUrlsFor(config);
  const graphOrigin = new URL(urls.graphBaseUrl).origin;
  const httpFetch: typeof fetch = options.fetch ?? fetch;
  const issuerOf = (tenant: string) => `${urls.authorityHost}/${tenant}/v2.0`;

  let clientAuthentication: Promise<client.ClientAuth> | null = null;
  let graphFailures = 0;

  // -------------------------------------------------------------------------------------------
  // Discovery and client authentication

  const discovery = lazyDiscovery(discover, { providerId: config.id, issuer: urls.issuer, now: options.now });

  // The discovery document is fetched here and handed to the Configuration constructor, the alternative
  // to discovery() that openid-client documents as skipping its issuer check. checkDiscoveredIssuer
  // does that check instead, because Entra's issuer legitimately differs from the discovery URL twice:
  // - tenantId is a domain: the document names the tenant's GUID issuer;
  // - organizations / common: the document names the template {authorityHost}/{tenantid}/v2.0.
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
    const homeTenantId = checkDiscoveredIssuer(issuer);
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

  function checkDiscoveredIssuer(issuer: string): string | null {
    if (urls.isMultiTenant) {
      if (issuer !== issuerOf(TENANT_PLACEHOLDER)) {
        throw new Error(`issuer ${issuer} is not the multi-tenant template ${issuerOf(TENANT_PLACEHOLDER)}`);
      }
      return null;
    }
    if (GUID_PATTERN.test(config.tenantId)) {
      if (issuer !== urls.issuer) throw new Error(`issuer ${issuer} is not ${urls.issuer}`);
      return config.tenantId;
    }
    // A domain: the tenant's own issuer, under the same authority host.
    const prefix = `${urls.authorityHost}/`;
    const tenant =
      issuer.startsWith(prefix) && issuer.endsWith('/v2.0') ? issuer.slice(prefix.length, -5) : '';
    if (!GUID_PATTERN.test(tenant)) {
      throw new Error(`issuer ${issuer} is not a tenant issuer under ${urls.authorityHost}`);
    }
    return tenant;
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
    if (config.insecureAllowHttp) client.allowInsecureRequests(oidc);
  }

  function joseFetchOptions(): Parameters<typeof createRemoteJWKSet>[1] {
    const jwksOptions: NonNullable<Parameters<typeof createRemoteJWKSet>[1]> = {
      timeoutDuration: IDP_TIMEOUT_SECONDS * 1000,
    };
    if (options.fetch !== undefined) jwksOptions[joseCustomFetch] = options.fetch;
    return jwksOptions;
  }

  function clientAuth(): Promise<client.ClientAuth> {
    clientAuthentication ??= createClientAuth(config);
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
    // openid-client checked iss against the tenant's issuer; tid must agree (Graph is asked about it).
    if (claims['tid'] !== homeTenantId) {
      throw new LoginResponseRejected(`ID token tid ${String(claims['tid'])} is not tenant ${homeTenantId}`);
    }
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
  //   4. only then the claims of the verified payload: nonce, tid a GUID, iss = the template with that
  //      tid (a token of tenant A naming tenant B in tid is refused), allowedTenants.
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
    await Promise.resolve(authenticate(server, found.oidc.clientMetadata(), body, headers));
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
    const tokenResponse = await readJsonObject(response).catch(() => ({}) as Record<string, unknown>);
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
    const tid = payload['tid'];
    if (typeof tid !== 'string' || !GUID_PATTERN.test(tid)) {
      throw new LoginResponseRejected('ID token tid is not a tenant ID');
    }
    const expectedIssuer = issuerOf(tid);
    if (payload.iss !== expectedIssuer) {
      throw new LoginResponseRejected(
        `ID token iss ${String(payload.iss)} is not the issuer of its tid ${tid}`,
      );
    }
    if (callback.iss !== undefined && callback.iss !== expectedIssuer) {
      throw new LoginResponseRejected(`authorization response iss ${callback.iss} is not ${expectedIssuer}`);
    }
    if (config.allowedTenants !== undefined && !config.allowedTenants.includes(tid)) {
      throw new AccessDenied(`${config.id}: tenant ${tid} is not in allowedTenants`);
    }
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
    // oid is the user's object ID: the same for every app in the tenant, unlike the per-app `sub`.
    // Across tenants Microsoft says to key users on tid + oid together, so multi-tenant IDs carry both.
    const externalId = urls.isMultiTenant ? `${tenantId}:${localId}` : localId;
    const base = externalIdentityFrom(config, externalId, [claims]);
    // xms_edov (optional claim): false when the email's domain is not verified by the tenant.
    const email = claims['xms_edov'] === false ? null : base.email;
    return { ...base, email, groups: await groupsOf(claims, tenantId) };
  }

  // -------------------------------------------------------------------------------------------
  // Groups

  async function groupsOf(
    claims: Readonly<Record<string, unknown>>,
    tenantId: string,
  ): Promise<readonly string[] | undefined> {
    const listed = readClaim(claims, config.claims.groups);
    const hasGraph = tenantId !== PERSONAL_ACCOUNTS_TENANT_ID; // personal accounts have no directory
    if (listed !== undefined) {
      const groups = claimAsGroups(listed);
      if (groups === undefined || !config.resolveGroupNames || !hasGraph) return groups;
      const ids = groups.filter((group) => GUID_PATTERN.test(group.toLowerCase()));
      if (ids.length === 0) return groups; // names or on-premises SIDs: nothing to resolve
      return withGraph(tenantId, 'getByIds', async (budget) => {
        const names = await displayNamesOf(tenantId, ids, budget);
        return unique(groups.map((group) => names.get(group.toLowerCase()) ?? group));
      });
    }
    if (!hasGroupsOverage(claims) || !hasGraph) return undefined;
    // The overage claim's _claim_sources endpoint is not followed: the app token goes only to graphBaseUrl.
    const oid = claimAsString(claims['oid'])?.toLowerCase() ?? null;
    if (oid === null || !GUID_PATTERN.test(oid)) {
      options.log?.warn(
        { provider: config.id, tenantId },
        'groups overage without an oid claim: groups unchanged',
      );
      return undefined;
    }
    return withGraph(tenantId, 'transitiveMemberOf', async (budget) => {
      const groups = await transitiveGroupsOf(tenantId, oid, budget);
      return unique(groups.map((group) => (config.resolveGroupNames ? group.name : group.id)));
    });
  }

  // Entra leaves `groups` out when the user has more than fit in a token (200 in a JWT) and says so
  // with _claim_names.groups (and _claim_sources), or hasgroups: true in implicit-flow tokens.
  function hasGroupsOverage(claims: Readonly<Record<string, unknown>>): boolean {
    if (config.claims.groups !== 'groups') return false;
    const names = claims['_claim_names'];
    const isNamed =
      names !== null && typeof names === 'object' && !Array.isArray(names) && Object.hasOwn(names, 'groups');
    return isNamed || claims['hasgroups'] === true;
  }

  async function withGraph(
    tenantId: string,
    step: GraphStep,
    run: (budget: WaitBudget) => Promise<readonly string[]>,
  ): Promise<readonly string[] | undefined> {
    try {
      return await run({ waitedMs: 0 });
    } catch (err) {
      graphFailures += 1;
      const failure = err instanceof GraphCallFailed ? err : null;
      options.log?.warn(
        {
          provider: config.id,
          tenantId,
          step: failure?.step ?? step,
          status: failure?.status ?? null,
          graphError: failure?.graphError ?? null,
          reason: failure?.message ?? describeError(err),
        },
        'Microsoft Graph group lookup failed: the login keeps the user’s current groups',
      );
      return undefined;
    }
  }

  // Names are cached per tenant and ID for groupNameCacheTtl; IDs Graph does not return (deleted, or
  // not a group) keep the ID as their name, and are cached too so each login does not ask again.
  const groupNames = new Map<string, { name: string; expiresAt: number }>();

  function rememberName(tenantId: string, id: string, name: string): void {
    const key = `${tenantId}/${id}`;
    groupNames.delete(key); // re-insert at the end: the Map's order is the eviction order
    groupNames.set(key, { name, expiresAt: options.now() + config.groupNameCacheTtl });
    if (groupNames.size > GROUP_NAME_CACHE_MAX_ENTRIES) {
      const oldest = groupNames.keys().next();
      if (oldest.done !== true) groupNames.delete(oldest.value);
    }
  }

  /** Lower-cased ID → display name, for every ID asked (unresolved IDs map to themselves). */
  async function displayNamesOf(
    tenantId: string,
    ids: readonly string[],
    budget: WaitBudget,
  ): Promise<Map<string, string>> {
    const now = options.now();
    const names = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(ids.map((value) => value.toLowerCase()))) {
      const cached = groupNames.get(`${tenantId}/${id}`);
      if (cached !== undefined && cached.expiresAt > now) names.set(id, cached.name);
      else missing.push(id);
    }
    for (let start = 0; start < missing.length; start += GET_BY_IDS_MAX_IDS) {
      const chunk = missing.slice(start, start + GET_BY_IDS_MAX_IDS);
      // directoryObject: getByIds — POST {ids, types}; answers {value: [{@odata.type, id, displayName…}]}.
      const answer = await graphJson(
        tenantId,
        new URL(`${urls.graphBaseUrl}/v1.0/directoryObjects/getByIds`),
        { method: 'POST', body: JSON.stringify({ ids: chunk, types: ['group'] }) },
        budget,
        'getByIds',
      );
      const found = new Map<string, string>();
      for (const item of valuesOf(answer, 'getByIds')) {
        const id = typeof item['id'] === 'string' ? item['id'].toLowerCase() : null;
        const displayName = item['displayName'];
        // Objects the app may not read come back with a null displayName: they keep their ID.
        const isNamedGroup =
          item['@odata.type'] === '#microsoft.graph.group' && typeof displayName === 'string';
        if (id !== null && isNamedGroup && displayName !== '') found.set(id, displayName);
      }
      for (const id of chunk) {
        const name = found.get(id) ?? id;
        names.set(id, name);
        rememberName(tenantId, id, name);
      }
    }
    return names;
  }

  /** List a user's transitive memberships, cast to groups, every page. */
  async function transitiveGroupsOf(
    tenantId: string,
    oid: string,
    budget: WaitBudget,
  ): Promise<Array<{ id: string; name: string }>> {
    const groups: Array<{ id: string; name: string }> = [];
    // The OData cast needs ConsistencyLevel: eventual and $count (the API page's request headers).
    let next: URL | null = new URL(
      `${urls.graphBaseUrl}/v1.0/users/${oid}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999&$count=true`,
    );
    for (let page = 0; next !== null; page += 1) {
      if (page === GRAPH_MAX_PAGES) {
        throw new GraphCallFailed('transitiveMemberOf', null, null, `more than ${GRAPH_MAX_PAGES} pages`);
      }
      const answer = await graphJson(
        tenantId,
        next,
        { method: 'GET', headers: { consistencylevel: 'eventual' } },
        budget,
        'transitiveMemberOf',
      );
      for (const item of valuesOf(answer, 'transitiveMemberOf')) {
        if (typeof item['id'] !== 'string' || item['id'] === '') continue;
        const id = item['id'].toLowerCase();
        const name =
          typeof item['displayName'] === 'string' && item['displayName'] !== '' ? item['displayName'] : id;
        groups.push({ id, name });
        rememberName(tenantId, id, name);
      }
      next = nextPage(answer['@odata.nextLink']);
    }
    return groups;
  }

  // @odata.nextLink is an absolute URL chosen by the server; the app token is sent only to graphBaseUrl's origin.
  function nextPage(link: unknown): URL | null {
    if (link === undefined || link === null) return null;
    if (typeof link !== 'string') {
      throw new GraphCallFailed('transitiveMemberOf', null, null, 'nextLink is not a string');
    }
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new GraphCallFailed('transitiveMemberOf', null, null, 'nextLink is not a URL');
    }
    if (url.origin !== graphOrigin) {
      throw new GraphCallFailed(
        'transitiveMemberOf',
        null,
        null,
        `nextLink leaves ${graphOrigin} for ${url.origin}`,
      );
    }
    return url;
  }

  async function graphJson(
    tenantId: string,
    url: URL,
    request: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> },
    budget: WaitBudget,
    step: GraphStep,
  ): Promise<Record<string, unknown>> {
    let retries = 0;
    let hasRenewedToken = false;
    for (;;) {
      const token = await appToken(tenantId);
      const init: RequestInit = {
        method: request.method,
        headers: {
          ...request.headers,
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        redirect: 'manual',
        signal: AbortSignal.timeout(GRAPH_TIMEOUT_MS),
      };
      if (request.body !== undefined) init.body = request.body;
      let response: Response;
      try {
        response = await httpFetch(url, init);
      } catch (err) {
        throw new GraphCallFailed(step, null, null, `request failed: ${describeError(err)}`);
      }
      if (response.status === 200) {
        try {
          return await readJsonObject(response);
        } catch (err) {
          throw new GraphCallFailed(step, 200, null, describeError(err));
        }
      }
      const graphError = await graphErrorCode(response);
      // A token revoked or expired early: one retry with a fresh one.
      if (response.status === 401 && !hasRenewedToken) {
        appTokens.delete(tenantId);
        hasRenewedToken = true;
        continue;
      }
      if ((response.status === 429 || response.status === 503) && retries < GRAPH_MAX_RETRIES) {
        const delayMs = retryDelayMs(response.headers.get('retry-after'), retries);
        if (budget.waitedMs + delayMs <= GRAPH_MAX_WAIT_MS) {
          budget.waitedMs += delayMs;
          retries += 1;
          await sleep(delayMs);
          continue;
        }
      }
      throw new GraphCallFailed(step, response.status, graphError, `HTTP ${response.status}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // App-only tokens for Graph (client credentials grant in the user's tenant)

  const appTokens = new Map<string, { accessToken: string; expiresAt: number }>();
  const appTokenRequests = new Map<string, Promise<string>>();
  const tokenConfigurations = new Map<string, client.Configuration>();

  function appToken(tenantId: string): Promise<string> {
    const cached = appTokens.get(tenantId);
    if (cached !== undefined && cached.expiresAt > options.now()) return Promise.resolve(cached.accessToken);
    let request = appTokenRequests.get(tenantId);
    if (request === undefined) {
      request = requestAppToken(tenantId).finally(() => appTokenRequests.delete(tenantId));
      appTokenRequests.set(tenantId, request);
    }
    return request;
  }

  async function requestAppToken(tenantId: string): Promise<string> {
    let tokens: client.TokenEndpointResponse;
    try {
      tokens = await client.clientCredentialsGrant(await tokenConfigurationFor(tenantId), {
        scope: `${urls.graphBaseUrl}/.default`,
      });
    } catch (err) {
      const status = err instanceof client.ResponseBodyError ? err.status : null;
      const error = err instanceof client.ResponseBodyError ? err.error : null;
      throw new GraphCallFailed('token', status, error, describeError(err));
    }
    const lifetimeMs = (tokens.expires_in ?? 0) * 1000;
    if (lifetimeMs > 0) {
      const renewBeforeMs = Math.min(APP_TOKEN_RENEW_BEFORE_MS, lifetimeMs / 2);
      if (appTokens.size >= TENANT_CACHE_MAX_ENTRIES) appTokens.clear();
      appTokens.set(tenantId, {
        accessToken: tokens.access_token,
        expiresAt: options.now() + lifetimeMs - renewBeforeMs,
      });
    }
    return tokens.access_token;
  }

  /** A Configuration for {authorityHost}/{tenant}/oauth2/v2.0/token, with the login's client authentication. */
  async function tokenConfigurationFor(tenantId: string): Promise<client.Configuration> {
    const existing = tokenConfigurations.get(tenantId);
    if (existing !== undefined) return existing;
    const server: client.ServerMetadata = {
      issuer: issuerOf(tenantId),
      token_endpoint: `${urls.authorityHost}/${tenantId}/oauth2/v2.0/token`,
    };
    const configuration = new client.Configuration(server, config.clientId, {}, await clientAuth());
    prepare(configuration);
    if (tokenConfigurations.size >= TENANT_CACHE_MAX_ENTRIES) tokenConfigurations.clear();
    tokenConfigurations.set(tenantId, configuration);
    return configuration;
  }

  // -------------------------------------------------------------------------------------------
  // The port

  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    callbackUrl: options.callbackUrl,

    get graphFailures() {
      return graphFailures;
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

async function createClientAuth(config: EntraProviderConfig): Promise<client.ClientAuth> {
  switch (config.clientAuth) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(config.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    case 'private_key_jwt': {
      const key = await importClientSigningKey(config.privateKey ?? '');
      const keyId = config.privateKeyId;
      const thumbprintHeader = keyId === undefined ? null : thumbprintHeaderOf(keyId);
      // Entra wants the assertion's aud to be the token endpoint it is sent to (openid-client puts the
      // issuer there, which for multi-tenant apps is a template), and finds the certificate by x5t.
      return (server, clientMetadata, body, headers) =>
        client.PrivateKeyJwt(keyId === undefined ? key : { key, kid: keyId }, {
          [client.modifyAssertion]: (header, payload) => {
            payload['aud'] = server.token_endpoint;
            if (thumbprintHeader !== null && keyId !== undefined) header[thumbprintHeader] = keyId;
          },
        })(server, clientMetadata, body, headers);
    }
  }
}

/** x5t for a base64url SHA-1 certificate thumbprint (20 bytes), x5t#S256 for SHA-256 (32 bytes). */
function thumbprintHeaderOf(keyId: string): 'x5t' | 'x5t#S256' | null {
  if (!/^[A-Za-z0-9_-]+$/.test(keyId)) return null;
  if (keyId.length === 27) return 'x5t';
  if (keyId.length === 43) return 'x5t#S256';
  return null;
}

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

async function readJsonObject(response: Response): Promise<Record<string, unknown>> {
  const body: unknown = JSON.parse(await response.text());
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error('response is not a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Graph's error body: {"error": {"code": "...", "message": "..."}}; only the code is kept. */
async function graphErrorCode(response: Response): Promise<string | null> {
  try {
    const error = (await readJsonObject(response))['error'];
    if (error === null || typeof error !== 'object') return null;
    const code = (error as Record<string, unknown>)['code'];
    return typeof code === 'string' ? code.slice(0, 100) : null;
  } catch {
    return null;
  }
}

function valuesOf(answer: Record<string, unknown>, step: GraphStep): Array<Record<string, unknown>> {
  const values = answer['value'];
  if (!Array.isArray(values)) throw new GraphCallFailed(step, 200, null, 'answer has no value array');
  return values.filter(
    (item): item is Record<string, unknown> =>
      item !== null && typeof item === 'object' && !Array.isArray(item),
  );
}

/** Retry-After in seconds (Graph's form) or an HTTP date; without one, exponential backoff. */
function retryDelayMs(retryAfter: string | null, retries: number): number {
  if (retryAfter !== null) {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  return GRAPH_DEFAULT_BACKOFF_MS * 2 ** retries;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
