// A fake Microsoft Graph (v1.0) and the Microsoft identity platform's client-credentials token endpoint,
// on 127.0.0.1, for tests of the Entra provider. No Microsoft endpoint is ever contacted.
//
// It follows the request and response shapes of Microsoft's documentation pages:
// - "Microsoft identity platform and the OAuth 2.0 client credentials flow": POST
//   /{tenant}/oauth2/v2.0/token, form body grant_type=client_credentials, scope={graph}/.default, the client
//   authenticated by client_secret (body or Basic) or a certificate assertion (client_assertion_type
//   jwt-bearer, aud = that token endpoint, per "certificate credentials"). Success:
//   {token_type: 'Bearer', expires_in, ext_expires_in, access_token}; failure: {error, error_description}.
// - "directoryObject: getByIds": POST /v1.0/directoryObjects/getByIds, JSON {ids: up to 1000 GUIDs, types},
//   answered with {'@odata.context', value: [{'@odata.type': '#microsoft.graph.group', id, displayName…}]}
//   holding only the IDs that exist (and are of the requested types).
// - "List a user's memberships (direct and transitive)" (transitiveMemberOf): GET
//   /v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group; the OData cast requires the header
//   ConsistencyLevel: eventual and $count=true (else 400 Request_UnsupportedQuery); $select and $top
//   (default page 100, max 999) are honoured; {'@odata.context', '@odata.count', value, '@odata.nextLink'}.
// - "Paging Microsoft Graph data": @odata.nextLink is an absolute URL carrying an opaque $skiptoken.
// - "Microsoft Graph throttling guidance": 429 Too Many Requests with Retry-After (seconds).
// - "Microsoft Graph error responses": {error: {code, message, innerError: {date, request-id, client-request-id}}};
//   a missing or unknown token is 401 InvalidAuthenticationToken.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { closeServer, listen, readBody } from './http-server.js';

export interface FakeGraphClient {
  clientId: string;
  /** For client_secret_post / client_secret_basic. */
  clientSecret?: string;
  /** The certificate's public key, for private_key_jwt. */
  publicJwk?: JWK;
}

export interface FakeGraphOptions {
  clients: FakeGraphClient[];
  /** The directory's groups: object ID → displayName. */
  groups?: Record<string, string>;
  /** User object ID → the IDs of the groups they are a (transitive) member of. */
  memberships?: Record<string, string[]>;
  /** Largest page transitiveMemberOf returns, whatever $top asks (Graph's default page is 100). */
  pageSize?: number;
  /** expires_in of issued app tokens; default 3599 like Entra. */
  tokenLifetimeSeconds?: number;
}

export type GraphRequestKind = 'token' | 'getByIds' | 'transitiveMemberOf' | 'other';

export interface GraphRequestRecord {
  kind: GraphRequestKind;
  method: string;
  /** Path and query as received. */
  url: string;
  /** The tenant in the token request's path, or the tenant the presented token was issued for. */
  tenant: string | undefined;
  /** Parsed JSON (getByIds) or form (token request, as an object) body. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  /** For private_key_jwt token requests: the verified assertion's protected header. */
  assertionHeader?: Record<string, unknown>;
}

export interface FakeGraph {
  /** The graphBaseUrl to configure, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  /** The client-credentials token endpoint as a request handler, to mount at an authority host. */
  handleTokenRequest: RequestListener;
  readonly requests: readonly GraphRequestRecord[];
  /** Every access token handed out, so tests can check none leaked into logs. */
  readonly issuedTokens: readonly string[];
  count(kind: GraphRequestKind): number;
  clearRequests(): void;
  setGroup(id: string, displayName: string): void;
  setMemberships(userId: string, groupIds: string[]): void;
  setPageSize(size: number): void;
  /** The next `count` Graph API requests (not token requests) are answered 429 (or 503) with Retry-After. */
  throttleNext(count: number, options?: { status?: 429 | 503; retryAfterSeconds?: number | null }): void;
  /** Until cleared with null, every Graph API request is answered with this status (e.g. 500). */
  failGraphWith(status: number | null): void;
  /** Until cleared with null, every token request is answered with this status. */
  failTokensWith(status: number | null): void;
  /** Tokens issued so far stop working (as after a revocation); new ones work. */
  revokeTokens(): void;
  /** Until cleared with null, @odata.nextLink points at this origin instead of the fake's own. */
  setNextLinkOrigin(origin: string | null): void;
  close(): Promise<void>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_BODY_BYTES = 1024 * 1024;

export async function startFakeGraph(options: FakeGraphOptions): Promise<FakeGraph> {
  const groups = new Map(Object.entries(options.groups ?? {}).map(([id, name]) => [id.toLowerCase(), name]));
  const memberships = new Map(
    Object.entries(options.memberships ?? {}).map(([user, ids]) => [user.toLowerCase(), ids]),
  );
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
  let pageSize = options.pageSize ?? 100;
  let throttled: { remaining: number; status: 429 | 503; retryAfterSeconds: number | null } = {
    remaining: 0,
    status: 429,
    retryAfterSeconds: null,
  };
  let graphFailure: number | null = null;
  let tokenFailure: number | null = null;
  let nextLinkOrigin: string | null = null;
  const tokens = new Map<string, { tenant: string; expiresAt: number }>();
  const issuedTokens: string[] = [];
  const requests: GraphRequestRecord[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error(
        `[fake-graph] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      if (!res.headersSent) sendGraphError(res, 500, 'generalException', 'The fake failed.');
      else res.destroy();
    });
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', url).pathname;
    if (/^\/[^/]+\/oauth2\/v2\.0\/token$/.test(path)) return handleToken(req, res);
    return handleGraph(req, res);
  }

  // --------------------------------------------------------------------------------------------
  // Token endpoint (client credentials)

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const tenant = decodeURIComponent(target.pathname.split('/')[1] ?? '');
    const form = new URLSearchParams(await readBody(req, MAX_BODY_BYTES));
    const record: GraphRequestRecord = {
      kind: 'token',
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      tenant,
      body: Object.fromEntries(form),
      headers: { ...req.headers },
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, body: Record<string, unknown>) => {
      record.status = status;
      sendJson(res, status, body);
    };
    if (tokenFailure !== null) {
      answer(tokenFailure, tokenError('temporarily_unavailable', 'AADSTS50000'));
      return;
    }
    if (req.method !== 'POST') {
      answer(405, tokenError('invalid_request', 'AADSTS900561: POST required'));
      return;
    }
    if (!GUID.test(tenant)) {
      answer(400, tokenError('invalid_request', 'AADSTS90002: Tenant not found'));
      return;
    }
    if (form.get('grant_type') !== 'client_credentials') {
      answer(400, tokenError('unsupported_grant_type', 'AADSTS70003: grant type not supported here'));
      return;
    }
    const client = await authenticateClient(req, form, target, record);
    if (client === null) {
      answer(401, tokenError('invalid_client', 'AADSTS7000215: Invalid client credentials'));
      return;
    }
    if (form.get('scope') !== `${url}/.default`) {
      answer(400, tokenError('invalid_scope', `AADSTS1002012: scope must be ${url}/.default`));
      return;
    }
    const accessToken = randomBytes(32).toString('base64url');
    tokens.set(accessToken, { tenant, expiresAt: Date.now() + tokenLifetimeSeconds * 1000 });
    issuedTokens.push(accessToken);
    answer(200, {
      token_type: 'Bearer',
      expires_in: tokenLifetimeSeconds,
      ext_expires_in: tokenLifetimeSeconds,
      access_token: accessToken,
    });
  }

  async function authenticateClient(
    req: IncomingMessage,
    form: URLSearchParams,
    target: URL,
    record: GraphRequestRecord,
  ): Promise<FakeGraphClient | null> {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const id = decodeURIComponent(decoded.slice(0, colon));
      const secret = decodeURIComponent(decoded.slice(colon + 1));
      const client = clients.get(id);
      return client?.clientSecret !== undefined && client.clientSecret === secret ? client : null;
    }
    const assertion = form.get('client_assertion');
    if (assertion !== null) {
      if (form.get('client_assertion_type') !== JWT_BEARER) return null;
      const client = clients.get(form.get('client_id') ?? '');
      if (client?.publicJwk === undefined) return null;
      try {
        const key = await importJWK(client.publicJwk, client.publicJwk.alg ?? 'RS256');
        // Entra's rule for certificate credentials: aud is the token endpoint the assertion is sent to.
        const { payload, protectedHeader } = await jwtVerify(assertion, key, {
          audience: `${target.origin}${target.pathname}`,
          issuer: client.clientId,
          subject: client.clientId,
          requiredClaims: ['exp', 'jti'],
        });
        if (payload.iss !== client.clientId) return null;
        record.assertionHeader = { ...protectedHeader };
        return client;
      } catch {
        return null;
      }
    }
    const client = clients.get(form.get('client_id') ?? '');
    const secret = form.get('client_secret');
    return client?.clientSecret !== undefined && secret === client.clientSecret ? client : null;
  }

  // --------------------------------------------------------------------------------------------
  // Graph API

  async function handleGraph(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url);
    const rawBody = await readBody(req, MAX_BODY_BYTES);
    const kind: GraphRequestKind =
      target.pathname === '/v1.0/directoryObjects/getByIds'
        ? 'getByIds'
        : /^\/v1\.0\/users\/[^/]+\/transitiveMemberOf\/microsoft\.graph\.group$/.test(target.pathname)
          ? 'transitiveMemberOf'
          : 'other';
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const issued = bearer === undefined ? undefined : tokens.get(bearer);
    const record: GraphRequestRecord = {
      kind,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      tenant: issued?.tenant,
      body: parseJsonOrText(rawBody),
      headers: { ...req.headers },
      status: 0,
    };
    requests.push(record);
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      record.status = status;
      sendGraphError(res, status, code, message, headers);
    };
    if (issued === undefined || issued.expiresAt <= Date.now()) {
      fail(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
      return;
    }
    if (graphFailure !== null) {
      fail(graphFailure, 'generalException', 'An unexpected error occurred.');
      return;
    }
    if (throttled.remaining > 0) {
      throttled.remaining -= 1;
      const headers: Record<string, string> =
        throttled.retryAfterSeconds === null ? {} : { 'retry-after': String(throttled.retryAfterSeconds) };
      fail(throttled.status, 'TooManyRequests', 'Too many requests. Please try again later.', headers);
      return;
    }
    const ok = (body: Record<string, unknown>) => {
      record.status = 200;
      sendJson(res, 200, body);
    };
    if (kind === 'getByIds') {
      if (req.method !== 'POST') {
        fail(405, 'Request_BadRequest', 'Method not allowed.');
        return;
      }
      const body = record.body as { ids?: unknown; types?: unknown } | null;
      const ids = body?.ids;
      if (
        !Array.isArray(ids) ||
        ids.length === 0 ||
        ids.length > 1000 ||
        !ids.every((id) => typeof id === 'string')
      ) {
        fail(400, 'Request_BadRequest', 'ids must be a collection of 1 to 1000 strings.');
        return;
      }
      const types = body?.types;
      if (
        types !== undefined &&
        (!Array.isArray(types) || !types.every((type) => typeof type === 'string'))
      ) {
        fail(400, 'Request_BadRequest', 'types must be a collection of strings.');
        return;
      }
      const wantsGroups =
        types === undefined ||
        types.some((type) => ['group', 'directoryobject'].includes(type.toLowerCase()));
      const value = wantsGroups
        ? ids.flatMap((id) => {
            const displayName = groups.get(id.toLowerCase());
            return displayName === undefined ? [] : [groupObject(id.toLowerCase(), displayName)];
          })
        : [];
      ok({ '@odata.context': `${url}/v1.0/$metadata#directoryObjects`, value });
      return;
    }
    if (kind === 'transitiveMemberOf') {
      if (req.method !== 'GET') {
        fail(405, 'Request_BadRequest', 'Method not allowed.');
        return;
      }
      if (req.headers.consistencylevel !== 'eventual' || target.searchParams.get('$count') !== 'true') {
        fail(
          400,
          'Request_UnsupportedQuery',
          'The OData cast requires the ConsistencyLevel: eventual header and $count=true.',
        );
        return;
      }
      const userId = decodeURIComponent(target.pathname.split('/')[3] ?? '').toLowerCase();
      const memberOf = memberships.get(userId);
      if (memberOf === undefined) {
        fail(404, 'Request_ResourceNotFound', `Resource '${userId}' does not exist.`);
        return;
      }
      const top = Number(target.searchParams.get('$top') ?? '100');
      if (!Number.isInteger(top) || top < 1 || top > 999) {
        fail(400, 'Request_BadRequest', '$top must be between 1 and 999.');
        return;
      }
      const size = Math.min(top, pageSize);
      const skipToken = target.searchParams.get('$skiptoken');
      const offset = skipToken === null ? 0 : Number(Buffer.from(skipToken, 'base64url').toString('utf8'));
      const select = target.searchParams.get('$select')?.split(',');
      const all = memberOf.map((id) => groupObject(id.toLowerCase(), groups.get(id.toLowerCase()) ?? null));
      const value = all.slice(offset, offset + size).map((group) => selectProperties(group, select));
      const page: Record<string, unknown> = {
        '@odata.context': `${url}/v1.0/$metadata#directoryObjects`,
        '@odata.count': all.length,
        value,
      };
      if (offset + size < all.length) {
        // Graph writes its links with literal $ and commas: the request's own query, plus $skiptoken.
        const query = target.search
          .slice(1)
          .split('&')
          .filter((pair) => pair !== '' && decodeURIComponent(pair.split('=')[0] ?? '') !== '$skiptoken');
        query.push(`$skiptoken=${Buffer.from(String(offset + size)).toString('base64url')}`);
        page['@odata.nextLink'] = `${nextLinkOrigin ?? url}${target.pathname}?${query.join('&')}`;
      }
      ok(page);
      return;
    }
    fail(400, 'BadRequest', `Resource not found for the segment '${target.pathname}'.`);
  }

  return {
    url,
    port,
    handleTokenRequest: (req, res) => {
      handleToken(req, res).catch((error: unknown) => {
        console.error(`[fake-graph] token: ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) sendJson(res, 500, tokenError('server_error', 'AADSTS50000'));
      });
    },
    requests,
    issuedTokens,
    count: (kind) => requests.filter((request) => request.kind === kind).length,
    clearRequests: () => {
      requests.length = 0;
    },
    setGroup: (id, displayName) => {
      groups.set(id.toLowerCase(), displayName);
    },
    setMemberships: (userId, groupIds) => {
      memberships.set(userId.toLowerCase(), groupIds);
    },
    setPageSize: (size) => {
      pageSize = size;
    },
    throttleNext: (count, throttle = {}) => {
      throttled = {
        remaining: count,
        status: throttle.status ?? 429,
        retryAfterSeconds: throttle.retryAfterSeconds === undefined ? 1 : throttle.retryAfterSeconds,
      };
    },
    failGraphWith: (status) => {
      graphFailure = status;
    },
    failTokensWith: (status) => {
      tokenFailure = status;
    },
    revokeTokens: () => {
      tokens.clear();
    },
    setNextLinkOrigin: (origin) => {
      nextLinkOrigin = origin;
    },
    close: () => closeServer(server),
  };
}

/** A group as Graph returns it without $select (a subset of its properties). */
function groupObject(id: string, displayName: string | null): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.group',
    id,
    displayName,
    description: null,
    groupTypes: [],
    mailEnabled: false,
    securityEnabled: true,
  };
}

function selectProperties(
  object: Record<string, unknown>,
  select: string[] | undefined,
): Record<string, unknown> {
  if (select === undefined) return object;
  return Object.fromEntries(select.filter((key) => key in object).map((key) => [key, object[key]]));
}

function tokenError(error: string, description: string): Record<string, unknown> {
  return {
    error,
    error_description: `${description}\r\nTrace ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)],
    timestamp: new Date().toISOString(),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  };
}

function sendGraphError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = randomUUID();
  sendJson(
    res,
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().slice(0, 19),
          'request-id': requestId,
          'client-request-id': requestId,
        },
      },
    },
    headers,
  );
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function parseJsonOrText(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
