// The user's groups from Entra: the ID token's group object IDs resolved to display names through
// Microsoft Graph, or, when the token carries the groups overage claim instead, the user's transitive
// memberships fetched from Graph. Graph throttling is honoured within a bounded wait per login.
//
// Graph permissions (application, admin-consented, in every tenant whose users sign in):
// - GroupMember.Read.All: reading a user's transitive group memberships (the overage case).
// - directoryObject getByIds (resolving IDs to names) documents Directory.Read.All as its application
//   permission. Without it those lookups fail and logins keep the user's current groups (see below).
//
// Whatever Graph does, a login never fails because of it: a Graph failure yields `groups: undefined`
// ("the IdP said nothing about groups", so the directory keeps the user's memberships), a warning in
// the log (never a token) and one more in `failures`.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GUID_PATTERN,
  PERSONAL_ACCOUNTS_TENANT_ID,
  type EntraProviderConfig,
} from '../../config/providers/entra-schema.js';
import { BoundedMap } from '../../core/bounded-map.js';
import { describeError } from '../login-errors.js';
import { claimAsGroups, claimAsString, readClaim } from '../oidc/claims.js';
import { AppTokenFailed, type AppTokens } from './app-token.js';
import { readJsonObject } from './json-object.js';

const GRAPH_TIMEOUT_MS = 10_000;
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
/** Bounds memory in multi-tenant setups. */
const GROUP_NAME_CACHE_MAX_ENTRIES = 50_000;

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

export interface GraphGroupsOptions {
  config: Pick<EntraProviderConfig, 'id' | 'claims' | 'resolveGroupNames' | 'groupNameCacheTtl'>;
  graphBaseUrl: string;
  appTokens: AppTokens;
  fetch: typeof fetch;
  now: () => number;
  log?: { warn(obj: object, msg: string): void } | undefined;
}

export interface GraphGroups {
  /**
   * The groups of a verified login's claims: names (or IDs, with resolveGroupNames false), or
   * undefined when the IdP said nothing about groups or Graph failed (memberships stay as they are).
   */
  groupsOf(
    claims: Readonly<Record<string, unknown>>,
    tenantId: string,
  ): Promise<readonly string[] | undefined>;
  /** Graph lookups that failed since start (each left one login's groups unchanged). */
  readonly failures: number;
}

export function createGraphGroups(options: GraphGroupsOptions): GraphGroups {
  const { config } = options;
  const graphOrigin = new URL(options.graphBaseUrl).origin;
  let failures = 0;

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
      failures += 1;
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
  // The least recently written entry goes first when the cache is full.
  const groupNames = new BoundedMap<string, { name: string; expiresAt: number }>(
    GROUP_NAME_CACHE_MAX_ENTRIES,
  );

  function rememberName(tenantId: string, id: string, name: string): void {
    groupNames.setNewest(`${tenantId}/${id}`, { name, expiresAt: options.now() + config.groupNameCacheTtl });
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
        new URL(`${options.graphBaseUrl}/v1.0/directoryObjects/getByIds`),
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
      `${options.graphBaseUrl}/v1.0/users/${oid}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999&$count=true`,
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
      const token = await appTokenFor(tenantId);
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
        response = await options.fetch(url, init);
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
        options.appTokens.forget(tenantId);
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

  /** The app token, its failure reported as Graph's step `token`. */
  async function appTokenFor(tenantId: string): Promise<string> {
    try {
      return await options.appTokens.get(tenantId);
    } catch (err) {
      if (err instanceof AppTokenFailed)
        throw new GraphCallFailed('token', err.status, err.error, err.message);
      throw err;
    }
  }

  return {
    groupsOf,
    get failures() {
      return failures;
    },
  };
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
