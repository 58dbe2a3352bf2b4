// A local stand-in for Microsoft Entra ID's login endpoints, on 127.0.0.1: one real oidc-provider per
// tenant, each with Entra's issuer shape {authorityHost}/{tenant}/v2.0 (oidc-provider is mounted under
// that path), ID tokens carrying Entra's claims (oid, tid, groups as object IDs, preferred_username,
// and for a user past the groups limit _claim_names/_claim_sources or hasgroups instead of groups).
//
// Like Entra it also answers:
// - /{verified domain}/v2.0/.well-known/openid-configuration with that tenant's document (GUID issuer);
// - /organizations|common/v2.0/.well-known/openid-configuration with the issuer template
//   {authorityHost}/{tenantid}/v2.0; its endpoints are the first tenant's, whose provider signs in users
//   of any tenant: a user's `tid` is whatever their claims say, so a test can make it disagree with `iss`;
// - POST /{tenant}/oauth2/v2.0/token for app-only tokens, handed to the fake Graph's token endpoint.
//
// The sign-in form is dev/local-idp's (login + password posted to /interaction/{uid}/login), so
// loginAtLocalIdp() in browser.ts fills it in.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import Provider, { type InteractionDetails } from 'oidc-provider';
import { closeServer, listen } from './http-server.js';
import { newSigningKey } from './jwks.js';

export interface EntraIdpUser {
  username: string;
  password: string;
  /** Must include `sub`; Entra's are oid, tid, preferred_username, name, email, groups. */
  claims: Record<string, unknown>;
}

export interface EntraIdpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  jwks?: { keys: object[] };
}

export interface EntraIdpOptions {
  /** Tenant IDs (GUIDs). The first also serves organizations and common. */
  tenants: string[];
  clients: EntraIdpClient[];
  users: EntraIdpUser[];
  /** Verified domain → tenant ID, e.g. { 'contoso.onmicrosoft.com': TENANT_A }. */
  domains?: Record<string, string>;
  /** Handles POST /{tenant}/oauth2/v2.0/token (client credentials), e.g. FakeGraph.handleTokenRequest. */
  appTokenEndpoint?: RequestListener;
}

export interface EntraIdp {
  /** e.g. http://127.0.0.1:PORT, no trailing slash: the provider's authorityHost. */
  authorityHost: string;
  port: number;
  issuerOf(tenant: string): string;
  /** Discovery requests answered so far, by path. */
  readonly discoveryRequests: readonly string[];
  close(): Promise<void>;
}

// Entra releases its optional claims whatever the scope; here they ride on `openid`.
const CLAIMS_BY_SCOPE = {
  openid: ['sub', 'oid', 'tid', 'ver', 'groups', 'hasgroups'],
  profile: ['name', 'preferred_username'],
  email: ['email'],
};

const MAX_FORM_BYTES = 64 * 1024;

export async function startEntraIdp(options: EntraIdpOptions): Promise<EntraIdp> {
  const [homeTenant] = options.tenants;
  if (homeTenant === undefined) throw new Error('startEntraIdp needs at least one tenant');
  let handleRequest: RequestListener = (_req, res) => sendText(res, 503, 'starting\n');
  const server = createServer((req, res) => handleRequest(req, res));
  const port = await listen(server);
  const authorityHost = `http://127.0.0.1:${port}`;
  const issuerOf = (tenant: string) => `${authorityHost}/${tenant}/v2.0`;

  const usersBySubject = new Map(options.users.map((user) => [String(user.claims['sub']), user]));
  /** Which tenant's provider runs each interaction (the login form URL has no tenant in it). */
  const interactionOwners = new Map<string, Provider>();
  const providers = new Map<string, Provider>();
  for (const tenant of options.tenants) {
    providers.set(
      tenant,
      createTenantProvider(issuerOf(tenant), options.clients, usersBySubject, interactionOwners),
    );
  }
  const callbacks = new Map([...providers].map(([tenant, provider]) => [tenant, provider.callback()]));
  const discoveryRequests: string[] = [];

  handleRequest = (req, res) => {
    const path = new URL(req.url ?? '/', authorityHost).pathname;
    if (path.endsWith('/.well-known/openid-configuration')) discoveryRequests.push(path);

    const interaction = /^\/interaction\/([^/]+)(\/login)?$/.exec(path);
    if (interaction) {
      const [, uid = '', login] = interaction;
      const owner = interactionOwners.get(uid);
      if (owner === undefined) return sendText(res, 404, 'unknown interaction\n');
      handleInteraction(owner, options.users, req, res, uid, login !== undefined).catch((error: unknown) => {
        console.error(
          `[entra-idp] interaction failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        if (!res.headersSent) sendText(res, 400, 'sign-in failed\n');
      });
      return;
    }
    const [, first = '', ...rest] = path.split('/');
    const remainder = `/${rest.join('/')}`;
    if (remainder === '/oauth2/v2.0/token' && options.appTokenEndpoint !== undefined) {
      return options.appTokenEndpoint(req, res);
    }
    if (
      (first === 'organizations' || first === 'common') &&
      remainder === '/v2.0/.well-known/openid-configuration'
    ) {
      serveMultiTenantDiscovery(res).catch(() => sendText(res, 500, 'discovery failed\n'));
      return;
    }
    const tenant = options.domains?.[first] ?? first;
    const callback = callbacks.get(tenant);
    if (callback === undefined || !remainder.startsWith('/v2.0')) {
      return sendText(res, 404, 'no such tenant\n');
    }
    // Mounted under /{tenant}/v2.0: oidc-provider builds its URLs from originalUrl minus url.
    const mount = `/${first}/v2.0`;
    const mounted = req as IncomingMessage & { originalUrl?: string };
    mounted.originalUrl = req.url ?? '/';
    const inner = (req.url ?? '/').slice(mount.length) || '/';
    req.url = inner.startsWith('/') ? inner : `/${inner}`;
    if (first !== tenant) {
      // A domain: answer as the tenant itself, as Entra does (the document names the GUID issuer).
      mounted.originalUrl = `/${tenant}/v2.0${req.url}`;
    }
    callback(req, res);
  };

  async function serveMultiTenantDiscovery(res: ServerResponse): Promise<void> {
    const response = await fetch(`${issuerOf(homeTenant as string)}/.well-known/openid-configuration`);
    const document = (await response.json()) as Record<string, unknown>;
    document['issuer'] = issuerOf('{tenantid}');
    // Entra does not send RFC 9207's iss on authorization responses, nor advertise it.
    delete document['authorization_response_iss_parameter_supported'];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(document));
  }

  let closing: Promise<void> | undefined;
  return {
    authorityHost,
    port,
    issuerOf,
    discoveryRequests,
    close: () => (closing ??= closeServer(server)),
  };
}

function createTenantProvider(
  issuer: string,
  clients: EntraIdpClient[],
  usersBySubject: Map<string, EntraIdpUser>,
  interactionOwners: Map<string, Provider>,
): Provider {
  const holder: { provider?: Provider } = {};
  const provider = new Provider(issuer, {
    adapter: createMemoryAdapterFactory(),
    clients: clients.map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_post',
      ...client,
    })),
    jwks: { keys: [newSigningKey('RS256', `entra-${randomUUID()}`).privateJwk()] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    scopes: Object.keys(CLAIMS_BY_SCOPE),
    claims: CLAIMS_BY_SCOPE,
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    responseTypes: ['code'],
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => {
        if (holder.provider !== undefined) interactionOwners.set(interaction.uid, holder.provider);
        return `/interaction/${interaction.uid}`;
      },
    },
    loadExistingGrant,
    findAccount: (_ctx: unknown, sub: string) => {
      const user = usersBySubject.get(sub);
      return user === undefined
        ? undefined
        : { accountId: sub, claims: () => Promise.resolve({ ...user.claims, sub }) };
    },
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });
  holder.provider = provider;
  provider.proxy = false;
  provider.on('server_error', (_ctx: unknown, error: Error) => {
    console.error(`[entra-idp] server error: ${error.stack ?? error.message}`);
  });
  return provider;
}

// First-party clients: every authorization request is granted the scopes it asks for, no consent screen.
/** The part of oidc-provider's Grant model used here (the package ships no types). */
interface Grant {
  accountId?: string;
  clientId?: string;
  addOIDCScope(scope: string): void;
  save(): Promise<unknown>;
}

/** The part of oidc-provider's request context (`ctx.oidc`) loadExistingGrant reads. */
interface OidcContext {
  result?: { consent?: { grantId?: string } };
  session: { accountId: string; grantIdFor(clientId: string): string | undefined };
  client: { clientId: string };
  params: { scope?: string };
  provider: {
    Grant: {
      new (owner: { accountId: string; clientId: string }): Grant;
      find(id: string): Promise<Grant | undefined>;
    };
  };
}

async function loadExistingGrant(ctx: { oidc: OidcContext }): Promise<Grant> {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  const owner = { accountId: oidc.session.accountId, clientId: oidc.client.clientId };
  const grant =
    existing?.accountId === owner.accountId && existing.clientId === owner.clientId
      ? existing
      : new oidc.provider.Grant(owner);
  grant.addOIDCScope(oidc.params.scope ?? 'openid');
  await grant.save();
  return grant;
}

async function handleInteraction(
  provider: Provider,
  users: EntraIdpUser[],
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  isLoginSubmission: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, '<h1>This sign-in link does not match your browser session.</h1>');
    return;
  }
  if (req.method === 'GET' && !isLoginSubmission) {
    sendHtml(res, 200, loginPage(details));
    return;
  }
  if (req.method !== 'POST' || !isLoginSubmission) {
    sendText(res, 405, 'method not allowed\n');
    return;
  }
  const form = await readForm(req);
  const user = users.find((candidate) => candidate.username === form.get('login'));
  if (user === undefined || user.password !== form.get('password')) {
    sendHtml(res, 401, `<p role="alert">Wrong username or password.</p>${loginForm(details)}`);
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: String(user.claims['sub']) } },
    { mergeWithLastSubmission: false },
  );
}

function loginPage(details: InteractionDetails): string {
  return `<h1>Sign in to your account</h1>${loginForm(details)}`;
}

function loginForm(details: InteractionDetails): string {
  return `<form method="post" action="/interaction/${encodeURIComponent(details.uid)}/login">
  <input name="login" autocomplete="username"><input name="password" type="password">
  <button type="submit">Sign in</button>
</form>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) throw new Error('login form too large');
  }
  return new URLSearchParams(body);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    `<!doctype html><html lang="en"><head><title>Entra (local)</title></head><body>${html}</body></html>`,
  );
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

// One store per provider (oidc-provider's bundled MemoryAdapter is process-wide): tenants must not
// see each other's sessions, grants or codes.
function createMemoryAdapterFactory() {
  const entries = new Map<string, { payload: Record<string, unknown>; expiresAt: number | undefined }>();
  const sessionsByUid = new Map<string, string>();
  const keysByGrantId = new Map<string, Set<string>>();
  const read = (key: string | undefined) => {
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
    return {
      upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
        const key = keyOf(id);
        entries.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
        if (model === 'Session' && typeof payload['uid'] === 'string') sessionsByUid.set(payload['uid'], key);
        const grantId = payload['grantId'];
        if (typeof grantId === 'string' && model !== 'Grant') {
          keysByGrantId.set(grantId, (keysByGrantId.get(grantId) ?? new Set<string>()).add(key));
        }
        return Promise.resolve();
      },
      find(id: string) {
        return Promise.resolve(read(keyOf(id)));
      },
      findByUid(uid: string) {
        return Promise.resolve(read(sessionsByUid.get(uid)));
      },
      findByUserCode() {
        return Promise.resolve(undefined);
      },
      consume(id: string): Promise<void> {
        const payload = read(keyOf(id));
        if (payload) payload['consumed'] = Math.floor(Date.now() / 1000);
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
