// The front door: every request enters here. The reserved prefix goes to the gateway's own routes;
// everything else is the proxied hot path, which reads top to bottom below. Normalise first, then
// decide: the path the policy sees is the path the upstream gets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AssertionMinter } from '../assertion/assertion.js';
import {
  AccessDenied,
  BadRequestTarget,
  GatewayError,
  InternalError,
  LoginRequired,
  RouteNotFound,
  SessionStoreUnavailable,
} from '../core/errors.js';
import { loginReturnUrlFor } from '../login/return-url.js';
import type { Logger } from '../observability/logger.js';
import { createForwardAuth } from '../forward-auth/forward-auth.js';
import { decide } from '../policy/decide.js';
import type { CompiledRoute, RouteTable } from '../policy/route-table.js';
import {
  setIdentityHeaders,
  stripIdentityHeaders,
  type IdentityHeaderPlan,
} from '../proxy/identity-headers.js';
import type { Upstream } from '../proxy/upstream.js';
import type { Identity } from '../core/identity.js';
import { andThen, type MaybePromise } from '../core/maybe-async.js';
import { bearerTokenOf, type BearerVerifier } from '../login/bearer-tokens.js';
import { cookieNameEnd, skipCookieSpaces } from '../session/cookie.js';
import { logoutHintCookieName } from '../session/logout-hint-cookie.js';
import type { ActiveSession, SessionLookup } from '../session/lookup.js';
import type { ClientAddressing } from './client-address.js';
import { isBrowserNavigation } from './client-kind.js';
import { sendError } from './error-response.js';
import { GATEWAY_PAGE_HEADERS, sendJson, sendRedirect } from './pages.js';
import { normalizeRequestTarget } from './request-path.js';

export type { Judgement };

export interface FrontDoorDeps {
  prefix: string;
  publicUrl: URL;
  gatewayApp: (req: IncomingMessage, res: ServerResponse) => void;
  routes: RouteTable;
  sessions: SessionLookup;
  bearer: BearerVerifier;
  assertions: AssertionMinter;
  headerPlan: IdentityHeaderPlan;
  addressing: ClientAddressing;
  upstream: Upstream;
  sessionCookieName: string;
  accessLog: boolean;
  log: Logger;
}

export interface FrontDoor {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** The caller behind a request, with the id its assertions are cached under. */
interface Principal {
  id: string;
  identity: Identity;
}

/** What the hot path concluded for one request; the HTTP and WebSocket paths act on it differently. */
type Admission =
  | { kind: 'gateway' }
  | { kind: 'forward-auth'; path: string; search: string }
  | { kind: 'forward'; route: CompiledRoute }
  | { kind: 'login'; route: CompiledRoute; loginUrl: string; onPublicHost: boolean }
  | { kind: 'error'; error: GatewayError };

/** The policy's answer for one protected request, shared by the proxy path and forward-auth. */
type Judgement =
  | { kind: 'public' }
  | { kind: 'login' }
  | { kind: 'deny'; error: GatewayError }
  | { kind: 'allow'; identity: Identity; assertion: string };

export function createFrontDoor(deps: FrontDoorDeps): FrontDoor {
  const loginBase = new URL(`${deps.prefix}/login`, deps.publicUrl).href;
  const authPath = `${deps.prefix}/auth`;
  const forwardAuth = createForwardAuth({ ...deps, authPath, judge, loginUrlFor });
  // The session cookie, the login-loop counter and the logout hint: none is the app's business.
  const gatewayCookieNames = [
    deps.sessionCookieName,
    `${deps.sessionCookieName}-rounds`,
    logoutHintCookieName({ name: deps.sessionCookieName, secure: deps.publicUrl.protocol === 'https:' }),
  ];

  /** Synchronous unless the session store or the assertion signer must be waited for. */
  function admit(req: IncomingMessage): MaybePromise<Admission> {
    const target = normalizeRequestTarget(req.url ?? '');
    if (!target.ok) return { kind: 'error', error: new BadRequestTarget(target.reason) };
    req.url = target.path + target.search; // what the upstream (or the gateway app) will see
    if (target.path === authPath || target.path.startsWith(`${authPath}/`)) {
      return { kind: 'forward-auth', path: target.path, search: target.search };
    }
    if (isGatewayPath(target.path, deps.prefix)) return { kind: 'gateway' };

    const host = normalizedHost(req.headers.host, deps.publicUrl);
    if (host === null) return { kind: 'error', error: new BadRequestTarget('invalid Host header') };
    const route = deps.routes.match(host, target.path);
    if (route === null)
      return { kind: 'error', error: new RouteNotFound(`no route for ${host}${target.path}`) };

    // Whatever happens next, the client's own identity and forwarding headers never reach the app.
    stripIdentityHeaders(req.headers, deps.headerPlan);
    deps.addressing.setForwardedHeaders(req);
    return andThen(judge(req, route), (judgement) => admissionFor(req, route, host, judgement));
  }

  function admissionFor(
    req: IncomingMessage,
    route: CompiledRoute,
    host: string,
    judgement: Judgement,
  ): Admission {
    switch (judgement.kind) {
      case 'public':
        hideGatewayCookies(req, gatewayCookieNames);
        return { kind: 'forward', route };
      case 'login': {
        const requestHost = req.headers.host ?? deps.publicUrl.host;
        return {
          kind: 'login',
          route,
          loginUrl: loginUrlFor(deps.publicUrl.protocol, requestHost, req.url ?? '/'),
          onPublicHost: host === deps.publicUrl.hostname,
        };
      }
      case 'deny':
        return { kind: 'error', error: judgement.error };
      case 'allow':
        setIdentityHeaders(req.headers, deps.headerPlan, judgement.identity, judgement.assertion);
        hideGatewayCookies(req, gatewayCookieNames);
        return { kind: 'forward', route };
    }
  }

  function judge(req: IncomingMessage, route: CompiledRoute): MaybePromise<Judgement> {
    if (route.isPublic) return { kind: 'public' };
    return andThen(principalOf(req, route), (principal) => judgementFor(route, principal));
  }

  function judgementFor(route: CompiledRoute, principal: Principal | null): MaybePromise<Judgement> {
    const decision = decide(route, principal?.identity ?? null);
    switch (decision.kind) {
      case 'public':
        return { kind: 'public' };
      case 'login':
        return { kind: 'login' };
      case 'deny':
        return {
          kind: 'deny',
          error: new AccessDenied(
            `${decision.identity.subject} denied on route ${route.id}: ${decision.reasons.join(',')}`,
          ),
        };
      case 'allow': {
        const identity = decision.identity;
        const assertion = deps.assertions.assertionFor((principal as Principal).id, identity, route.id);
        return andThen(assertion, (token): Judgement => ({ kind: 'allow', identity, assertion: token }));
      }
    }
  }

  /** Who is asking: a bearer token on routes that accept one, else the session cookie. */
  function principalOf(req: IncomingMessage, route: CompiledRoute): MaybePromise<Principal | null> {
    const token = route.bearer === null ? null : bearerTokenOf(req.headers);
    if (token !== null && route.bearer !== null) {
      // A presented token is judged on its own: an invalid one is a 401, never a fallback to the cookie.
      return deps.bearer
        .verify(token, route.bearer)
        .then(({ identity, cacheKey }) => ({ id: cacheKey, identity }));
    }
    const storeFailed = (err: unknown): never => {
      throw new SessionStoreUnavailable('session lookup failed', { cause: err });
    };
    let session: MaybePromise<ActiveSession | null>;
    try {
      session = deps.sessions.lookup(req);
    } catch (err) {
      return storeFailed(err);
    }
    if (session instanceof Promise) session = session.catch(storeFailed);
    return andThen(session, (active) =>
      active === null ? null : { id: active.id, identity: active.identity },
    );
  }

  /** The sign-in URL whose return address is the original request (relative when on the public origin). */
  function loginUrlFor(protocol: string, requestHost: string, pathAndQuery: string): string {
    const requestUrl = new URL(pathAndQuery, `${protocol}//${requestHost}`);
    return `${loginBase}?rd=${encodeURIComponent(loginReturnUrlFor(requestUrl, deps.publicUrl.origin))}`;
  }

  /**
   * A browser on the gateway's own host is answered by the sign-in page itself (usually a 302
   * straight to the IdP), not sent to it first: one redirect fewer per login, as the peers do. On
   * another host (forward-auth, shared cookie domain) the browser must go to the public origin,
   * where the login state's cookie belongs.
   */
  function startLoginInPlace(req: IncomingMessage, res: ServerResponse, loginUrl: string): void {
    const { pathname, search } = new URL(loginUrl);
    req.url = pathname + search;
    deps.gatewayApp(req, res);
  }

  function logAccess(req: IncomingMessage, route: CompiledRoute): void {
    if (deps.accessLog) deps.log.info({ method: req.method, path: req.url, route: route.id }, 'proxied');
  }

  function act(req: IncomingMessage, res: ServerResponse, admission: Admission): void {
    switch (admission.kind) {
      case 'gateway':
        return deps.gatewayApp(req, res);
      case 'forward-auth':
        return forwardAuth.answer(req, res, admission.path, admission.search);
      case 'forward':
        logAccess(req, admission.route);
        return deps.upstream.forward(req, res, admission.route);
      case 'login':
        if (isBrowserNavigation(req.method, req.headers)) {
          if (admission.onPublicHost) return startLoginInPlace(req, res, admission.loginUrl);
          return sendRedirect(res, 302, admission.loginUrl);
        }
        return sendJson(res, 401, {
          error: 'PC_LOGIN_REQUIRED',
          message: new LoginRequired('').publicMessage,
          login: admission.loginUrl,
        });
      case 'error':
        return sendError(admission.error, req, res, deps.log);
    }
  }

  function actOnUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admission: Admission): void {
    switch (admission.kind) {
      case 'forward':
        logAccess(req, admission.route);
        return deps.upstream.forwardUpgrade(req, socket, head, admission.route);
      case 'gateway':
      case 'forward-auth':
        return refuseUpgrade(socket, new RouteNotFound('no WebSocket endpoint on the gateway prefix'));
      case 'login':
        return refuseUpgrade(socket, new LoginRequired('WebSocket upgrade without a session'));
      case 'error':
        return refuseUpgrade(socket, admission.error);
    }
  }

  return {
    handleRequest(req, res) {
      const failed = (err: unknown) => sendError(err, req, res, deps.log);
      // Synchronous all the way for the usual request; every throw, now or later, becomes an answer.
      try {
        const admission = admit(req);
        if (admission instanceof Promise) {
          admission.then((ready) => act(req, res, ready)).catch(failed);
        } else act(req, res, admission);
      } catch (err) {
        failed(err);
      }
    },

    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      const failed = (err: unknown) =>
        refuseUpgrade(socket, new InternalError('upgrade failed', { cause: err }));
      try {
        const admission = admit(req);
        if (admission instanceof Promise) {
          admission.then((ready) => actOnUpgrade(req, socket, head, ready)).catch(failed);
        } else actOnUpgrade(req, socket, head, admission);
      } catch (err) {
        failed(err);
      }
    },
  };
}

export function isGatewayPath(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Host header → normalised host: clients send a handful of distinct values, parsing each once. */
const normalizedHosts = new Map<string, string | null>();
const NORMALIZED_HOSTS_KEPT = 1_000;

/** Lowercase host without port or trailing dot; the public URL's host when the client sent none. */
export function normalizedHost(header: string | undefined, publicUrl: URL): string | null {
  if (header === undefined || header === '') return publicUrl.hostname;
  let host = normalizedHosts.get(header);
  if (host === undefined) {
    host = parseHost(header);
    normalizedHosts.set(header, host);
    if (normalizedHosts.size > NORMALIZED_HOSTS_KEPT)
      normalizedHosts.delete(normalizedHosts.keys().next().value as string);
  }
  return host;
}

function parseHost(header: string): string | null {
  try {
    const url = new URL(`http://${header}`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '') return null;
    return url.hostname.replace(/\.$/, '');
  } catch {
    return null;
  }
}

/**
 * The app must not see the gateway's cookies, on public routes as on protected ones: with the
 * session cookie it could replay the user's session against every other app behind the gateway.
 */
export function hideGatewayCookies(req: IncomingMessage, names: readonly string[]): void {
  const header = req.headers.cookie;
  if (header === undefined || !names.some((name) => header.includes(name))) return;
  // Most often the header is the session cookie alone.
  if (
    !header.includes(';') &&
    names.some(
      (name) => cookieNameEnd(header, skipCookieSpaces(header, 0, header.length), header.length, name) !== -1,
    )
  ) {
    delete req.headers.cookie;
    return;
  }
  // One pass over the header without splitting it: this runs on every request that has a session.
  let kept = '';
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const pair = skipCookieSpaces(header, start, end);
    if (pair < end && !names.some((name) => cookieNameEnd(header, pair, end, name) !== -1)) {
      kept =
        kept === '' ? header.slice(pair, end).trimEnd() : `${kept}; ${header.slice(pair, end).trimEnd()}`;
    }
    start = end + 1;
  }
  if (kept === '') delete req.headers.cookie;
  else req.headers.cookie = kept;
}

function refuseUpgrade(socket: Duplex, error: GatewayError): void {
  const body = JSON.stringify({ error: error.code, message: error.publicMessage });
  const headers = Object.entries({ ...GATEWAY_PAGE_HEADERS, 'content-type': 'application/json' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${error.status} ${statusText(error.status)}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
  };
  return texts[status] ?? 'Error';
}
