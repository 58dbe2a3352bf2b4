// A gateway whose only identity provider is the hostile rogue OP (test/support/rogue-op.ts), with routes
// to the echo app, plus helpers to drive the login step by step and to prove no session exists.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoApp, type EchoApp, type EchoedRequest } from '../../dev/echo-app.js';
import type { BrowserResponse, TestBrowser } from './browser.js';
import { freePort } from './free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from './gateway-stack.js';
import { startRogueOp, type RogueOp } from './rogue-op.js';

export const ROGUE_CLIENT_ID = 'portcullis-rogue-test';
export const ROGUE_CLIENT_SECRET = 'rogue-test-secret';
export const ROGUE_PROVIDER_ID = 'rogue';

/** Headers of an API client: the gateway answers it with JSON and 401s instead of redirects. */
export const API_HEADERS: Readonly<Record<string, string>> = {
  accept: 'application/json',
  'sec-fetch-mode': 'cors',
};

/** The identity headers the gateway sets for the app (default names). */
export const IDENTITY_HEADER_NAMES = [
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-name',
  'x-portcullis-assertion',
] as const;

export interface RogueStackOptions {
  /** Merged into the raw `server` section (e.g. allowedRedirectHosts). */
  server?: Record<string, unknown>;
}

export interface RogueStack {
  rogue: RogueOp;
  echo: EchoApp;
  gateway: GatewayInstance;
  /** http://localhost:PORT, the gateway's configured publicUrl. */
  publicUrl: string;
  /** The redirect URI registered at the rogue OP. */
  callbackUrl: string;
  close(): Promise<void>;
}

export async function startRogueStack(options: RogueStackOptions = {}): Promise<RogueStack> {
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const callbackUrl = `${publicUrl}/.portcullis/callback/${ROGUE_PROVIDER_ID}`;
  const rogue = await startRogueOp({
    clientId: ROGUE_CLIENT_ID,
    clientSecret: ROGUE_CLIENT_SECRET,
    redirectUri: callbackUrl,
  });
  const echo = await startEchoApp({
    jwksUrl: `http://127.0.0.1:${port}/.portcullis/jwks.json`,
    expectedIssuer: publicUrl,
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-rogue-'));
  let gateway: GatewayInstance;
  try {
    gateway = await startGatewayFromRaw(
      {
        server: { listen: `127.0.0.1:${port}`, publicUrl, ...options.server },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          {
            id: ROGUE_PROVIDER_ID,
            type: 'oidc',
            issuer: rogue.issuer,
            clientId: ROGUE_CLIENT_ID,
            clientSecret: ROGUE_CLIENT_SECRET,
            insecureAllowHttpIssuer: true,
            scopes: ['openid', 'profile', 'email'],
          },
        ],
        routes: [
          { id: 'public', path: '/public/', upstream: echo.url, public: true },
          { id: 'app', path: '/', upstream: echo.url, allow: { authenticated: true } },
        ],
        roles: { admin: { groups: ['admins'] } },
        storage: { dataDir },
        log: { level: 'debug' },
      },
      port,
    );
  } catch (err) {
    await Promise.allSettled([echo.close(), rogue.close()]);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    rogue,
    echo,
    gateway,
    publicUrl,
    callbackUrl,
    async close() {
      await Promise.allSettled([gateway.close(), echo.close(), rogue.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface StartedLogin {
  /** The gateway's redirect to the rogue OP's /authorize. */
  authorizeUrl: URL;
  /** Where the rogue OP sends the browser back: the gateway callback with code and state. */
  callbackUrl: URL;
}

/**
 * The front-channel half of a login: GET /.portcullis/login (with `rd` if given) → 302 to the rogue OP's
 * /authorize → 302 to the gateway callback. The callback itself is not requested.
 */
export async function startLogin(
  stack: RogueStack,
  browser: TestBrowser,
  rd?: string,
): Promise<StartedLogin> {
  const query = rd === undefined ? '' : `?rd=${encodeURIComponent(rd)}`;
  const login = await browser.request(`${stack.publicUrl}/.portcullis/login${query}`);
  assert.equal(
    login.status,
    302,
    `login start: expected 302, got ${login.status}: ${login.body.slice(0, 300)}`,
  );
  const authorizeUrl = new URL(login.headers.location ?? '');
  assert.equal(authorizeUrl.origin, stack.rogue.issuer, `login start redirected to ${authorizeUrl.href}`);
  const authorize = await browser.request(authorizeUrl.href, { referrer: `${stack.publicUrl}/` });
  assert.equal(
    authorize.status,
    302,
    `rogue /authorize: expected 302, got ${authorize.status}: ${authorize.body}`,
  );
  const callbackUrl = new URL(authorize.headers.location ?? '');
  assert.equal(`${callbackUrl.origin}${callbackUrl.pathname}`, stack.callbackUrl);
  return { authorizeUrl, callbackUrl };
}

/** Requests a callback URL as the browser would after the IdP's redirect (a cross-site navigation). */
export function deliverCallback(
  stack: RogueStack,
  browser: TestBrowser,
  callbackUrl: URL | string,
  headers: Record<string, string> = {},
): Promise<BrowserResponse> {
  const href = typeof callbackUrl === 'string' ? callbackUrl : callbackUrl.href;
  return browser.request(href, { referrer: `${stack.rogue.issuer}/`, headers });
}

/** The whole honest login; returns the callback response (a 302 to the return URL when it worked). */
export async function loginThroughRogue(
  stack: RogueStack,
  browser: TestBrowser,
  rd?: string,
): Promise<BrowserResponse> {
  const { callbackUrl } = await startLogin(stack, browser, rd);
  return deliverCallback(stack, browser, callbackUrl);
}

/** The gateway's /userinfo as an API call with this browser's cookies. */
export async function userinfo(
  stack: RogueStack,
  browser: TestBrowser,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await browser.request(`${stack.publicUrl}/.portcullis/userinfo`, {
    headers: { ...API_HEADERS },
  });
  return { status: response.status, body: parseJson(response) };
}

/**
 * Asserts this browser holds no signed-in session: /userinfo answers 401 and a protected route answers
 * an API request with 401 PC_LOGIN_REQUIRED (so nothing reached the app).
 */
export async function assertNotSignedIn(
  stack: RogueStack,
  browser: TestBrowser,
  context = '',
): Promise<void> {
  const info = await userinfo(stack, browser);
  assert.equal(
    info.status,
    401,
    `${context}: /userinfo should be 401, got ${info.status} ${JSON.stringify(info.body)}`,
  );
  assert.equal(info.body['error'], 'PC_NOT_SIGNED_IN', context);
  const before = stack.echo.requests.length;
  const app = await browser.request(`${stack.publicUrl}/private/probe`, { headers: { ...API_HEADERS } });
  assert.equal(
    app.status,
    401,
    `${context}: protected route should be 401, got ${app.status} ${app.body.slice(0, 200)}`,
  );
  assert.equal(parseJson(app)['error'], 'PC_LOGIN_REQUIRED', context);
  assert.equal(stack.echo.requests.length, before, `${context}: the protected request reached the app`);
}

/** Requests the app received with any identity header set. */
export function requestsWithIdentity(requests: readonly EchoedRequest[]): EchoedRequest[] {
  return requests.filter((request) =>
    IDENTITY_HEADER_NAMES.some((name) => request.headers[name] !== undefined),
  );
}

export function parseJson(response: BrowserResponse): Record<string, unknown> {
  try {
    return JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    return { unparsable: response.body.slice(0, 300) };
  }
}
