// A hostile but protocol-shaped OpenID Provider for security tests.
//
// It speaks just enough of OIDC (discovery, JWKS, authorization code + PKCE, token, userinfo) for an
// openid-client 6 relying party to complete a login against it, and can be told to hand out a
// malformed or forged ID token so tests can prove the gateway refuses each attack.
// It listens on 127.0.0.1 only and has no login page: /authorize answers at once.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, listen } from './http-server.js';
import { newSigningKey, type PublicJwk, type TestSigningKey } from './jwks.js';

export type IdTokenAttack =
  | 'none' // a correct ID token (the baseline: this login must succeed)
  | 'bad-signature' // signed by a different RSA key but with the kid of the published key
  | 'unknown-kid' // signed by a key that is not in the JWKS, its own kid
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'expired' // exp 10 min in the past
  | 'not-yet-valid' // iat (and nbf) a day in the future
  | 'wrong-nonce'
  | 'missing-nonce'
  | 'alg-none' // unsigned JWT, header alg 'none'
  | 'hs256-public-key' // alg confusion: HS256 keyed with the published RSA public key as SPKI PEM text
  | 'hs256-jwk-n' // alg confusion: HS256 keyed with the published JWK's base64url `n`
  | 'tampered-payload' // a valid token whose payload segment is swapped for one with another sub
  | 'azp-mismatch'; // aud is an array with the client and another party, azp another party

/** Every attack a relying party must refuse (everything except the 'none' baseline). */
export const HOSTILE_ID_TOKEN_ATTACKS: readonly IdTokenAttack[] = [
  'bad-signature',
  'unknown-kid',
  'wrong-issuer',
  'wrong-audience',
  'expired',
  'not-yet-valid',
  'wrong-nonce',
  'missing-nonce',
  'alg-none',
  'hs256-public-key',
  'hs256-jwk-n',
  'tampered-payload',
  'azp-mismatch',
];

export interface TokenRequestRecord {
  body: URLSearchParams;
  authorization: string | undefined;
  /** True only when a code_verifier was sent and matched the stored S256 challenge. */
  pkceOk: boolean;
}

export interface RogueOp {
  issuer: string;
  port: number;
  setAttack(attack: IdTokenAttack): void;
  /** Replaces the user claims of the next tokens; `sub` defaults to 'mallory' if not given. */
  setClaims(claims: Record<string, unknown>): void;
  readonly tokenRequests: TokenRequestRecord[];
  /** A JWT access token signed with the published key (or, with `forge`, the attacker's key under the published kid). */
  signAccessToken(claims: Record<string, unknown>, options?: { forge?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export interface RogueOpOptions {
  clientId: string;
  clientSecret: string;
  /** When set, /authorize refuses (without redirecting) any other redirect_uri. */
  redirectUri?: string;
}

const PUBLISHED_KID = 'rogue-1';
const ATTACKER_KID = 'attacker-1';
const CODE_LIFETIME_MS = 60_000;
const TOKEN_LIFETIME_S = 300;
const MAX_BODY_BYTES = 64 * 1024;
const OTHER_PARTY = 'someone-else';

const DEFAULT_CLAIMS: Readonly<Record<string, unknown>> = {
  sub: 'mallory',
  email: 'mallory@example.com',
  name: 'Mallory',
  groups: ['admins'],
};

interface PendingCode {
  nonce: string | undefined;
  codeChallenge: string;
  redirectUri: string;
  expiresAt: number;
}

interface SigningKeys {
  /** The key published in the JWKS: tokens signed with it verify. */
  published: TestSigningKey;
  /** A key the relying party has never seen. */
  attacker: TestSigningKey;
  publicJwk: PublicJwk;
  publicPem: string;
}

interface OpState {
  issuer: string;
  options: RogueOpOptions;
  keys: SigningKeys;
  attack: IdTokenAttack;
  claims: Record<string, unknown>;
  codes: Map<string, PendingCode>;
  /** Access token -> the userinfo claims issued with it. */
  accessTokens: Map<string, Record<string, unknown>>;
  tokenRequests: TokenRequestRecord[];
}

class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, string>;
  readonly headers: Record<string, string>;
  constructor(status: number, error: string, description: string, headers: Record<string, string> = {}) {
    super(`${error}: ${description}`);
    this.status = status;
    this.body = { error, error_description: description };
    this.headers = headers;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Constant-time string comparison, so the OP does not model a timing oracle by accident. */
function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, location: URL): void {
  res.writeHead(302, { Location: location.href, 'Cache-Control': 'no-store' });
  res.end();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'invalid_request', 'request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new HttpError(400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await readBody(req));
}

// ---------------------------------------------------------------------------------------------
// Keys and ID tokens

function createSigningKeys(): SigningKeys {
  const published = newSigningKey('RS256', PUBLISHED_KID);
  return {
    published,
    attacker: newSigningKey('RS256', ATTACKER_KID),
    publicJwk: published.publicJwk,
    publicPem: published.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The claims of a correct ID token for this authorization. */
function honestIdTokenClaims(state: OpState, userClaims: Record<string, unknown>, nonce: string | undefined) {
  const now = nowSeconds();
  const claims: Record<string, unknown> = {
    ...userClaims,
    iss: state.issuer,
    aud: state.options.clientId,
    iat: now,
    exp: now + TOKEN_LIFETIME_S,
  };
  if (nonce !== undefined) claims['nonce'] = nonce;
  return claims;
}

/** Attacks that lie in the claims; the token itself is still properly signed with the published key. */
function applyClaimAttack(attack: IdTokenAttack, claims: Record<string, unknown>): void {
  const now = nowSeconds();
  switch (attack) {
    case 'wrong-issuer':
      claims['iss'] = 'https://evil.example';
      break;
    case 'wrong-audience':
      claims['aud'] = OTHER_PARTY;
      break;
    case 'expired':
      claims['iat'] = now - 15 * 60;
      claims['exp'] = now - 10 * 60;
      break;
    case 'not-yet-valid':
      // openid-client does not reject a future iat by itself, so nbf carries the same instant:
      // the token as a whole is "not valid before tomorrow", as a spec-minded RP must see it.
      claims['iat'] = now + 24 * 3600;
      claims['nbf'] = now + 24 * 3600;
      claims['exp'] = now + 24 * 3600 + TOKEN_LIFETIME_S;
      break;
    case 'wrong-nonce':
      claims['nonce'] = randomToken();
      break;
    case 'missing-nonce':
      delete claims['nonce'];
      break;
    case 'azp-mismatch':
      claims['aud'] = [claims['aud'], OTHER_PARTY];
      claims['azp'] = OTHER_PARTY;
      break;
    default:
      break;
  }
}

function signRs256(claims: Record<string, unknown>, key: TestSigningKey, kid: string): Promise<string> {
  return key.sign(claims, { kid, typ: 'JWT' });
}

/** Builds the unsigned token by hand: jose refuses to produce alg 'none'. */
function unsignedJwt(claims: Record<string, unknown>): string {
  return `${base64urlJson({ alg: 'none', typ: 'JWT' })}.${base64urlJson(claims)}.`;
}

/** Classic alg confusion: a verifier that trusts the header alg would use the public key as HMAC secret. */
function hs256WithSecret(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${base64urlJson({ alg: 'HS256', typ: 'JWT', kid: PUBLISHED_KID })}.${base64urlJson(claims)}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** Swaps the payload of a correctly signed token; the signature no longer covers what is shown. */
async function tamperedJwt(state: OpState, claims: Record<string, unknown>): Promise<string> {
  const honest = await signRs256(claims, state.keys.published, PUBLISHED_KID);
  const [header, , signature] = honest.split('.');
  return `${header}.${base64urlJson({ ...claims, sub: 'admin' })}.${signature}`;
}

async function buildIdToken(state: OpState, userClaims: Record<string, unknown>, nonce: string | undefined) {
  const claims = honestIdTokenClaims(state, userClaims, nonce);
  applyClaimAttack(state.attack, claims);
  const { keys } = state;
  switch (state.attack) {
    case 'bad-signature':
      return signRs256(claims, keys.attacker, PUBLISHED_KID);
    case 'unknown-kid':
      return signRs256(claims, keys.attacker, ATTACKER_KID);
    case 'alg-none':
      return unsignedJwt(claims);
    case 'hs256-public-key':
      return hs256WithSecret(claims, keys.publicPem);
    case 'hs256-jwk-n':
      return hs256WithSecret(claims, String(keys.publicJwk.n));
    case 'tampered-payload':
      return tamperedJwt(state, claims);
    default:
      return signRs256(claims, keys.published, PUBLISHED_KID);
  }
}

// ---------------------------------------------------------------------------------------------
// Endpoints

function discoveryDocument(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    grant_types_supported: ['authorization_code'],
    scopes_supported: ['openid', 'profile', 'email', 'groups'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'azp', 'email', 'name', 'groups'],
  };
}

/** Validates client_id and redirect_uri; errors here must not redirect (the target is untrusted). */
function trustedRedirectUri(state: OpState, params: URLSearchParams): URL {
  if (params.get('client_id') !== state.options.clientId) {
    throw new HttpError(400, 'invalid_client', 'unknown client_id');
  }
  const requested = params.get('redirect_uri');
  if (requested === null || !URL.canParse(requested)) {
    throw new HttpError(400, 'invalid_request', 'redirect_uri is missing or not an absolute URL');
  }
  if (state.options.redirectUri !== undefined && requested !== state.options.redirectUri) {
    throw new HttpError(400, 'invalid_request', 'redirect_uri is not registered for this client');
  }
  return new URL(requested);
}

/** Authorization request problems that are reported back to the client by redirect. */
function authorizationRequestError(params: URLSearchParams): string | undefined {
  if (params.get('response_type') !== 'code') return 'unsupported_response_type';
  if (!params.get('code_challenge') || params.get('code_challenge_method') !== 'S256')
    return 'invalid_request';
  return undefined;
}

function handleAuthorize(state: OpState, url: URL, res: ServerResponse): void {
  const params = url.searchParams;
  const target = trustedRedirectUri(state, params);
  const stateParam = params.get('state');
  if (stateParam !== null) target.searchParams.set('state', stateParam);
  const error = authorizationRequestError(params);
  if (error !== undefined) {
    target.searchParams.set('error', error);
    redirect(res, target);
    return;
  }
  const code = randomToken();
  state.codes.set(code, {
    nonce: params.get('nonce') ?? undefined,
    codeChallenge: params.get('code_challenge') ?? '',
    redirectUri: params.get('redirect_uri') ?? '',
    expiresAt: Date.now() + CODE_LIFETIME_MS,
  });
  target.searchParams.set('code', code);
  redirect(res, target);
}

/** Reads client_secret_basic credentials (RFC 6749 §2.3.1: each part form-urlencoded). */
function basicCredentials(authorization: string): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(authorization);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  const formDecode = (part: string): string => decodeURIComponent(part.replace(/\+/g, ' '));
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function authenticateClient(state: OpState, authorization: string | undefined, body: URLSearchParams): void {
  const postSecret = body.get('client_secret');
  if (authorization !== undefined && postSecret !== null) {
    throw new HttpError(400, 'invalid_request', 'use only one client authentication method');
  }
  const credentials =
    authorization !== undefined
      ? basicCredentials(authorization)
      : postSecret !== null
        ? { id: body.get('client_id') ?? '', secret: postSecret }
        : undefined;
  const { clientId, clientSecret } = state.options;
  if (!credentials || !safeEqual(credentials.id, clientId) || !safeEqual(credentials.secret, clientSecret)) {
    // RFC 6749 §5.2: a Basic challenge only answers a client that tried the Authorization header.
    const challenge: Record<string, string> =
      authorization !== undefined ? { 'WWW-Authenticate': 'Basic realm="rogue-op"' } : {};
    throw new HttpError(401, 'invalid_client', 'client authentication failed', challenge);
  }
}

/** Takes the code out of the store first, so that even a failed redemption burns it. */
function redeemCode(state: OpState, body: URLSearchParams, record: TokenRequestRecord): PendingCode {
  const code = body.get('code') ?? '';
  const pending = state.codes.get(code);
  state.codes.delete(code);
  if (!pending || pending.expiresAt < Date.now()) {
    throw new HttpError(400, 'invalid_grant', 'authorization code is invalid, expired or already used');
  }
  const verifier = body.get('code_verifier');
  if (verifier === null || !safeEqual(s256(verifier), pending.codeChallenge)) {
    throw new HttpError(400, 'invalid_grant', 'PKCE verification failed');
  }
  record.pkceOk = true;
  if (body.get('redirect_uri') !== pending.redirectUri) {
    throw new HttpError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  }
  return pending;
}

async function handleToken(state: OpState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readForm(req);
  const record: TokenRequestRecord = { body, authorization: req.headers.authorization, pkceOk: false };
  state.tokenRequests.push(record);
  authenticateClient(state, record.authorization, body);
  if (body.get('grant_type') !== 'authorization_code') {
    throw new HttpError(400, 'unsupported_grant_type', 'only authorization_code is supported');
  }
  const pending = redeemCode(state, body, record);
  const userClaims = { ...state.claims };
  const accessToken = randomToken();
  state.accessTokens.set(accessToken, userClaims);
  const idToken = await buildIdToken(state, userClaims, pending.nonce);
  sendJson(
    res,
    200,
    { access_token: accessToken, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, id_token: idToken },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
  );
}

function handleUserinfo(state: OpState, req: IncomingMessage, res: ServerResponse): void {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  const claims = match?.[1] !== undefined ? state.accessTokens.get(match[1]) : undefined;
  if (!claims) {
    throw new HttpError(401, 'invalid_token', 'unknown access token', {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
  }
  sendJson(res, 200, claims, { 'Cache-Control': 'no-store' });
}

async function route(state: OpState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', state.issuer);
  const endpoint = `${req.method} ${url.pathname}`;
  switch (endpoint) {
    case 'GET /.well-known/openid-configuration': {
      sendJson(res, 200, discoveryDocument(state.issuer));
      return;
    }
    case 'GET /jwks': {
      sendJson(res, 200, { keys: [state.keys.publicJwk] });
      return;
    }
    case 'GET /authorize': {
      handleAuthorize(state, url, res);
      return;
    }
    case 'POST /token':
      return handleToken(state, req, res);
    case 'GET /userinfo':
    case 'POST /userinfo': {
      handleUserinfo(state, req, res);
      return;
    }
    default:
      throw new HttpError(404, 'not_found', `no endpoint ${endpoint}`);
  }
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    sendJson(res, error.status, error.body, { 'Cache-Control': 'no-store', ...error.headers });
    return;
  }
  sendJson(res, 500, { error: 'server_error', error_description: String(error) });
}

export async function startRogueOp(options: RogueOpOptions): Promise<RogueOp> {
  const keys = createSigningKeys();
  // The state needs the issuer, which needs the port: requests find it here once it exists.
  const ready: { state?: OpState } = {};
  const server = createServer((req, res) => {
    const { state } = ready;
    if (!state) return sendError(res, new Error('rogue OP is not ready'));
    route(state, req, res).catch((error: unknown) => sendError(res, error));
  });
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const live: OpState = {
    issuer,
    options,
    keys,
    attack: 'none',
    claims: { ...DEFAULT_CLAIMS },
    codes: new Map(),
    accessTokens: new Map(),
    tokenRequests: [],
  };
  ready.state = live;
  let closing: Promise<void> | undefined;
  return {
    issuer,
    port,
    setAttack(attack) {
      live.attack = attack;
    },
    setClaims(claims) {
      live.claims = { sub: DEFAULT_CLAIMS['sub'], ...claims };
    },
    get tokenRequests() {
      return live.tokenRequests;
    },
    signAccessToken(claims, signOptions) {
      const now = Math.floor(Date.now() / 1000);
      const key = signOptions?.forge === true ? keys.attacker : keys.published;
      return signRs256({ iss: issuer, iat: now, exp: now + TOKEN_LIFETIME_S, ...claims }, key, PUBLISHED_KID);
    },
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}
