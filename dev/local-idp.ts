// A real OpenID Provider on the loopback interface, for the demo and the integration tests.
//
// It is panva's certified `oidc-provider`, configured the way a small company IdP would be:
// authorization code flow with mandatory PKCE (S256), first-party clients (no consent screen),
// RP-initiated logout, and a plain HTML login form that a scripted browser can fill in.
// Everything (keys, cookie keys, sessions) lives in memory and is new on every start.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, {
  type Account,
  type Adapter,
  type AdapterPayload,
  type Grant,
  type InteractionDetails,
  type KoaContextWithOIDC,
} from 'oidc-provider';

export interface LocalIdpUser {
  username: string;
  password: string;
  /** Must include `sub`. Only the claims of the granted scopes are released. */
  claims: Record<string, unknown>;
}

export interface LocalIdpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  /** Public keys, for private_key_jwt. */
  jwks?: { keys: object[] };
  id_token_signed_response_alg?: string;
}

export interface LocalIdpOptions {
  /** 0 or absent = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  clients: LocalIdpClient[];
  /** Default demoUsers. */
  users?: LocalIdpUser[];
}

export interface LocalIdp {
  /** e.g. http://127.0.0.1:PORT, no trailing slash. */
  issuer: string;
  port: number;
  /** The ID token most recently issued for this subject at the token endpoint (tests compare id_token_hint with it). */
  lastIdTokenFor(subject: string): string | undefined;
  close(): Promise<void>;
}

export const demoUsers: LocalIdpUser[] = [
  {
    username: 'alice',
    password: 'alice',
    claims: {
      sub: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Example',
      preferred_username: 'alice',
      groups: ['admins', 'eng'],
      realm_access: { roles: ['admins', 'eng'] },
    },
  },
  {
    username: 'bob',
    password: 'bob',
    claims: {
      sub: 'bob',
      email: 'bob@example.com',
      name: 'Bob Example',
      preferred_username: 'bob',
      groups: ['eng'],
      realm_access: { roles: ['eng'] },
    },
  },
];

// `realm_access` rides along with `groups` so that Keycloak-style role mappings can be tested too.
const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: [
    'name',
    'given_name',
    'family_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  groups: ['groups', 'realm_access'],
};

const MAX_FORM_BYTES = 64 * 1024;

export async function startLocalIdp(options: LocalIdpOptions): Promise<LocalIdp> {
  const host = options.host ?? '127.0.0.1';
  const users = options.users ?? demoUsers;
  assertUsersHaveSubjects(users);

  // The issuer must contain the port, which is only known once listening, so the server
  // starts with a placeholder handler and receives the provider right after.
  let handleRequest: RequestListener = (_req, res) => sendText(res, 503, 'starting\n');
  const lastIdTokens = new Map<string, string>(); // one per user at most
  const server = createServer((req, res) => handleRequest(req, res));
  const port = await listen(server, options.port ?? 0, host);
  const issuer = `http://${issuerHost(host)}:${port}`;
  try {
    const provider = createProvider(issuer, options.clients, users);
    provider.on('grant.success', (ctx: { body?: unknown }) => recordIdToken(lastIdTokens, ctx.body));
    handleRequest = routeRequests(provider, users);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  let closing: Promise<void> | undefined;
  // Idempotent, so a test may close explicitly and again in its cleanup hook.
  return {
    issuer,
    port,
    lastIdTokenFor: (subject) => lastIdTokens.get(subject),
    close: () => (closing ??= closeServer(server)),
  };
}

function recordIdToken(lastIdTokens: Map<string, string>, body: unknown): void {
  const idToken = (body as { id_token?: unknown } | undefined)?.id_token;
  if (typeof idToken !== 'string') return;
  const payload = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sub?: unknown;
  };
  if (typeof payload.sub === 'string') lastIdTokens.set(payload.sub, idToken);
}

function assertUsersHaveSubjects(users: LocalIdpUser[]): void {
  for (const user of users) {
    if (typeof user.claims['sub'] !== 'string' || user.claims['sub'] === '') {
      throw new Error(`local IdP user ${user.username} needs a string claims.sub`);
    }
  }
}

function subjectOf(user: LocalIdpUser): string {
  return user.claims['sub'] as string;
}

function issuerHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

// ---------------------------------------------------------------------------------------------
// Provider configuration

function createProvider(issuer: string, clients: LocalIdpClient[], users: LocalIdpUser[]): Provider {
  const usersBySubject = new Map(users.map((user) => [subjectOf(user), user]));
  const provider = new Provider(issuer, {
    adapter: createMemoryAdapterFactory(),
    clients: clients.map(toClientMetadata),
    jwks: { keys: generateSigningKeys() },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // The default SameSite=None on the session cookie is refused by browsers over plain http;
      // every request that needs it here is a top-level navigation, which Lax allows.
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    scopes: Object.keys(CLAIMS_BY_SCOPE),
    claims: CLAIMS_BY_SCOPE,
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'] },
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    loadExistingGrant,
    findAccount: (_ctx: unknown, sub: string) => findAccount(usersBySubject, sub),
    renderError,
    // No browser JavaScript calls this IdP cross-origin; saying so also silences a dev warning.
    clientBasedCORS: () => false,
    // Explicit values only to silence oidc-provider's "you SHOULD change this" notices.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
      RefreshToken: 24 * 3600,
    },
  });
  provider.proxy = false;
  provider.on('server_error', (_ctx: unknown, error: Error) => {
    console.error(`[local-idp] server error: ${error.stack ?? error.message}`);
  });
  return provider;
}

function toClientMetadata(client: LocalIdpClient): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    client_id: client.client_id,
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? defaultAuthMethod(client),
  };
  if (client.client_secret !== undefined) metadata['client_secret'] = client.client_secret;
  if (client.post_logout_redirect_uris)
    metadata['post_logout_redirect_uris'] = client.post_logout_redirect_uris;
  if (client.jwks) metadata['jwks'] = client.jwks;
  if (client.id_token_signed_response_alg) {
    metadata['id_token_signed_response_alg'] = client.id_token_signed_response_alg;
  }
  return metadata;
}

// oidc-provider's own default (client_secret_basic) would reject a client without a secret.
function defaultAuthMethod(
  client: LocalIdpClient,
): NonNullable<LocalIdpClient['token_endpoint_auth_method']> {
  if (client.client_secret !== undefined) return 'client_secret_basic';
  if (client.jwks) return 'private_key_jwt';
  return 'none';
}

// RSA for the usual RS256/PS256 ID tokens, plus P-256 so a client may ask for ES256.
function generateSigningKeys(): object[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rsa-${randomUUID()}`, use: 'sig' },
    { ...ec, kid: `ec-${randomUUID()}`, use: 'sig' },
  ];
}

// oidc-provider awaits `claims()`, so a plain value will do.
function findAccount(usersBySubject: Map<string, LocalIdpUser>, sub: string): Account | undefined {
  const user = usersBySubject.get(sub);
  if (!user) return undefined;
  return { accountId: sub, claims: () => ({ ...user.claims, sub }) };
}

// All clients are first-party: instead of a consent screen, every authorization request is
// granted the scopes it asks for (added to the session's existing grant, if any).
async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant> {
  const { provider, result, session, client, params } = ctx.oidc;
  // oidc-provider loads a grant only once the end-user is known: there is a signed-in session
  // and the request's client.
  if (session?.accountId === undefined || client === undefined) {
    throw new Error('local IdP: a grant was asked for without a signed-in session and a client');
  }
  const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  const owner = { accountId: session.accountId, clientId: client.clientId };
  return grantScopes(provider, existing, owner, stringParam(params, 'scope') ?? 'openid');
}

async function grantScopes(
  provider: Provider,
  existing: Grant | undefined,
  owner: { accountId: string; clientId: string },
  scope: string,
): Promise<Grant> {
  const belongsToOwner = existing?.accountId === owner.accountId && existing.clientId === owner.clientId;
  const grant = belongsToOwner ? existing : new provider.Grant(owner);
  grant.addOIDCScope(scope);
  await grant.save();
  return grant;
}

// oidc-provider passes a ready-made <form id="op.logoutForm"> holding only the xsrf token, with
// the buttons meant to live outside it. Putting `logout=yes` and the button inside the form
// lets a scripted client complete the logout by submitting the form as shown. (oidc-provider
// awaits these page helpers, renderError included; they need not be async.)
function logoutSource(ctx: KoaContextWithOIDC, form: string): void {
  const confirm =
    '<input type="hidden" name="logout" value="yes"><button type="submit">Yes, sign me out</button>';
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `<h1>Sign out</h1><p>Sign out of the local IdP at ${escapeHtml(ctx.host)}?</p>${form.replace('</form>', `${confirm}</form>`)}`,
  );
}

function postLogoutSuccessSource(ctx: KoaContextWithOIDC): void {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out of the local IdP.</p>');
}

function renderError(ctx: KoaContextWithOIDC, out: Record<string, unknown>): void {
  const rows = Object.entries(out)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(String(value))}</dd>`)
    .join('');
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>Something went wrong</h1><dl>${rows}</dl>`);
}

// ---------------------------------------------------------------------------------------------
// HTTP routing: the interaction (login) routes are ours, everything else is oidc-provider's.

function routeRequests(provider: Provider, users: LocalIdpUser[]): RequestListener {
  const oidc = provider.callback();
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://local-idp').pathname;
    const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(path);
    if (!match) {
      oidc(req, res);
      return;
    }
    const [, uid = '', login] = match;
    handleInteraction(provider, users, req, res, uid, login !== undefined).catch((error: unknown) => {
      sendInteractionFailure(res, error);
    });
  };
}

async function handleInteraction(
  provider: Provider,
  users: LocalIdpUser[],
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  isLoginSubmission: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Error', '<h1>This sign-in link does not match your browser session.</h1>'));
    return;
  }
  if (req.method === 'GET' && !isLoginSubmission) {
    await showInteraction(provider, details, req, res);
    return;
  }
  if (req.method === 'POST' && isLoginSubmission) {
    await checkLogin(provider, users, details, req, res);
    return;
  }
  sendText(res, 405, 'method not allowed\n');
}

async function showInteraction(
  provider: Provider,
  details: InteractionDetails,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // loadExistingGrant should prevent consent prompts; should one still come (e.g. a future
  // oidc-provider reason), grant it rather than leave the user looping on the login form.
  if (details.prompt.name === 'consent' && details.session?.accountId) {
    const owner = { accountId: details.session.accountId, clientId: String(details.params['client_id']) };
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = await grantScopes(
      provider,
      existing,
      owner,
      stringParam(details.params, 'scope') ?? 'openid',
    );
    await provider.interactionFinished(req, res, { consent: { grantId: grant.jti } });
    return;
  }
  sendHtml(res, 200, loginPage(details));
}

async function checkLogin(
  provider: Provider,
  users: LocalIdpUser[],
  details: InteractionDetails,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const form = await readUrlEncodedForm(req);
  const username = form.get('login') ?? '';
  const user = users.find((candidate) => candidate.username === username);
  if (!user || user.password !== form.get('password')) {
    sendHtml(res, 401, loginPage(details, { username, error: 'Wrong username or password.' }));
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: subjectOf(user) } },
    { mergeWithLastSubmission: false },
  );
}

function loginPage(details: InteractionDetails, state: { username?: string; error?: string } = {}): string {
  const clientId = stringParam(details.params, 'client_id') ?? 'an application';
  const error = state.error ? `<p role="alert" style="color:#b00">${escapeHtml(state.error)}</p>` : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientId)}</strong></p>
${error}
<form method="post" action="/interaction/${escapeHtml(encodeURIComponent(details.uid))}/login">
  <p><label>Username <input name="login" autocomplete="username" value="${escapeHtml(state.username ?? '')}" autofocus></label></p>
  <p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
  <p><button type="submit">Sign in</button></p>
</form>
<p><small>Demo users: alice / alice, bob / bob.</small></p>`,
  );
}

function sendInteractionFailure(res: ServerResponse, error: unknown): void {
  const name = error instanceof Error ? error.name : 'Error';
  // SessionNotFound & co. are what a stale or foreign interaction cookie produces: the user's
  // problem, not ours, so they are answered but not logged.
  if (name !== 'SessionNotFound') {
    console.error(
      `[local-idp] interaction failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendHtml(
    res,
    400,
    page(
      'Sign-in failed',
      `<h1>Sign-in failed</h1><p>${escapeHtml(name)}: start again from the application.</p>`,
    ),
  );
}

async function readUrlEncodedForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) throw new Error('login form too large');
  }
  return new URLSearchParams(body);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** An OAuth request parameter, when given as one string. */
function stringParam(params: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - Local IdP</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}</style>
</head><body>
${body}
</body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections from test clients would otherwise hold close() open.
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// Storage

interface StoredEntry {
  payload: AdapterPayload;
  expiresAt: number | undefined;
}

// oidc-provider's bundled MemoryAdapter is one module-wide store (and warns on every start);
// a store per IdP keeps several IdPs in one test process from seeing each other's sessions.
function createMemoryAdapterFactory(): (model: string) => Adapter {
  const entries = new Map<string, StoredEntry>();
  const keysByGrantId = new Map<string, Set<string>>();
  const indexes = new Map<string, string>(); // `sessionUid:…` / `userCode:…` -> entry key

  const read = (key: string | undefined): AdapterPayload | undefined => {
    if (key === undefined) return undefined;
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  return (model: string) => {
    const keyOf = (id: string) => `${model}:${id}`;
    // Everything is in memory, so each answer is ready at once.
    return {
      upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
        const key = keyOf(id);
        const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
        entries.set(key, { payload, expiresAt });
        if (model === 'Session' && typeof payload.uid === 'string') {
          indexes.set(`sessionUid:${payload.uid}`, key);
        }
        if (typeof payload.userCode === 'string') indexes.set(`userCode:${payload.userCode}`, key);
        if (typeof payload.grantId === 'string' && model !== 'Grant') {
          const keys = keysByGrantId.get(payload.grantId) ?? new Set<string>();
          keysByGrantId.set(payload.grantId, keys.add(key));
        }
        return Promise.resolve();
      },
      find(id: string) {
        return Promise.resolve(read(keyOf(id)));
      },
      findByUid(uid: string) {
        return Promise.resolve(read(indexes.get(`sessionUid:${uid}`)));
      },
      findByUserCode(userCode: string) {
        return Promise.resolve(read(indexes.get(`userCode:${userCode}`)));
      },
      consume(id: string): Promise<void> {
        const payload = read(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
        return Promise.resolve();
      },
      destroy(id: string): Promise<void> {
        entries.delete(keyOf(id));
        return Promise.resolve();
      },
      revokeByGrantId(grantId: string): Promise<void> {
        for (const key of keysByGrantId.get(grantId) ?? []) entries.delete(key);
        keysByGrantId.delete(grantId);
        return Promise.resolve();
      },
    };
  };
}
