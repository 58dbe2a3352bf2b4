// The front door: every request enters here and reads as admit → act. Admit normalises the target
// (the path the policy sees is the path the upstream gets), finds the route and asks the access
// judge; act answers: the gateway's own routes, forward-auth, the upstream, sign-in, or an error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { AccessJudge, Judgement } from '../access/judge.js';
import {
  BadRequestTarget,
  InternalError,
  LoginRequired,
  RouteNotFound,
  type GatewayError,
} from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { andThen, type MaybePromise } from '../core/maybe-async.js';
import type { SignInUrlFor } from '../login/sign-in-url.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledRoute, RouteTable } from '../policy/route-table.js';
import {
  setIdentityHeaders,
  stripIdentityHeaders,
  type IdentityHeaderPlan,
} from '../proxy/identity-headers.js';
import type { Upstream } from '../proxy/upstream.js';
import { hideGatewayCookies } from '../session/cookie.js';
import type { ClientAddressing } from './client-address.js';
import { isBrowserNavigation } from './client-kind.js';
import { sendError } from './error-response.js';
import { refuseUpgrade, sendLoginRequired, sendRedirect } from './pages.js';
import { assignRequestId } from './request-id.js';
import { hasRepeatedHost, isGatewayPath, normalizedHost, normalizeRequestTarget } from './request-path.js';

export interface FrontDoorDeps {
  prefix: string;
  publicUrl: URL;
  gatewayApp: (req: IncomingMessage, res: ServerResponse) => void;
  /** forward-auth/ answers {prefix}/auth[/…] (it sits above this floor, so it is handed in). */
  forwardAuth: { answer(req: IncomingMessage, res: ServerResponse, path: string, search: string): void };
  routes: RouteTable;
  judge: AccessJudge;
  signInUrl: SignInUrlFor;
  headerPlan: IdentityHeaderPlan;
  addressing: ClientAddressing;
  upstream: Upstream;
  /** session/cookie.ts gatewayCookieNames(): never the app's business. */
  gatewayCookies: readonly string[];
  accessLog: boolean;
  log: Logger;
}

/** Listeners for node:http's 'request' and 'upgrade' events (unbound: `this` is never used). */
export interface FrontDoor {
  handleRequest(this: void, req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(this: void, req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** What admit concluded for one request; the HTTP and WebSocket paths act on it differently. */
type Admission =
  | { kind: 'gateway' }
  | { kind: 'forward-auth'; path: string; search: string }
  | { kind: 'forward'; route: CompiledRoute; identity: Identity | null }
  | { kind: 'login'; route: CompiledRoute; loginUrl: string; onPublicHost: boolean }
  | { kind: 'error'; error: GatewayError };

export function createFrontDoor(deps: FrontDoorDeps): FrontDoor {
  const authPath = `${deps.prefix}/auth`;
  const accessLog = deps.accessLog ? createAccessLog(deps.log) : null;

  /** Synchronous unless the access judge must wait (a store read, a signature, a bearer token). */
  function admit(req: IncomingMessage): MaybePromise<Admission> {
    assignRequestId(req, deps.addressing.isTrustedPeer(req));
    const target = normalizeRequestTarget(req.url ?? '');
    if (!target.ok) return { kind: 'error', error: new BadRequestTarget(target.reason) };
    if (hasRepeatedHost(req.rawHeaders))
      return { kind: 'error', error: new BadRequestTarget('more than one Host header') };
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
    return andThen(deps.judge.judge(req, route), (judgement) => admissionFor(req, route, host, judgement));
  }

  function admissionFor(
    req: IncomingMessage,
    route: CompiledRoute,
    host: string,
    judgement: Judgement,
  ): Admission {
    switch (judgement.kind) {
      case 'public':
        hideGatewayCookies(req.headers, deps.gatewayCookies);
        return { kind: 'forward', route, identity: null };
      case 'login':
        return {
          kind: 'login',
          route,
          loginUrl: deps.signInUrl(
            deps.publicUrl.protocol,
            req.headers.host ?? deps.publicUrl.host,
            req.url ?? '/',
          ),
          onPublicHost: host === deps.publicUrl.hostname,
        };
      case 'deny':
        return { kind: 'error', error: judgement.error };
      case 'allow':
        setIdentityHeaders(req.headers, deps.headerPlan, judgement.identity, judgement.assertion);
        hideGatewayCookies(req.headers, deps.gatewayCookies);
        return { kind: 'forward', route, identity: judgement.identity };
    }
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

  function act(req: IncomingMessage, res: ServerResponse, admission: Admission): void {
    switch (admission.kind) {
      case 'gateway':
        return deps.gatewayApp(req, res);
      case 'forward-auth':
        return deps.forwardAuth.answer(req, res, admission.path, admission.search);
      case 'forward':
        accessLog?.track(req, res, admission.route, admission.identity);
        return deps.upstream.forward(req, res, admission.route);
      case 'login':
        if (isBrowserNavigation(req.method, req.headers)) {
          if (admission.onPublicHost) return startLoginInPlace(req, res, admission.loginUrl);
          return sendRedirect(res, 302, admission.loginUrl);
        }
        return sendLoginRequired(res, admission.loginUrl);
      case 'error':
        return sendError(admission.error, req, res, deps.log);
    }
  }

  function actOnUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admission: Admission): void {
    switch (admission.kind) {
      case 'forward':
        accessLog?.upgraded(req, admission.route, admission.identity);
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
      const failed = (err: unknown) => {
        sendError(err, req, res, deps.log);
      };
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
      const failed = (err: unknown) => {
        refuseUpgrade(socket, new InternalError('upgrade failed', { cause: err }));
      };
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

/**
 * The access log (log.accessLog): one line per proxied request when its response is finished, with
 * status, duration, route, user and request id. The path is logged without its query string, which
 * often carries tokens, codes or personal data.
 */
function createAccessLog(log: Logger) {
  const pathOf = (req: IncomingMessage): string => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  };
  return {
    track(req: IncomingMessage, res: ServerResponse, route: CompiledRoute, identity: Identity | null): void {
      const started = performance.now();
      const method = req.method;
      const path = pathOf(req);
      const requestId = req.headers['x-request-id'];
      res.once('close', () => {
        log.info(
          {
            requestId,
            method,
            path,
            route: route.id,
            user: identity?.subject ?? null,
            status: res.statusCode,
            durationMs: Math.round((performance.now() - started) * 10) / 10,
            completed: res.writableFinished,
          },
          'proxied',
        );
      });
    },
    upgraded(req: IncomingMessage, route: CompiledRoute, identity: Identity | null): void {
      log.info(
        {
          requestId: req.headers['x-request-id'],
          method: req.method,
          path: pathOf(req),
          route: route.id,
          user: identity?.subject ?? null,
          upgrade: req.headers.upgrade,
        },
        'proxied upgrade',
      );
    },
  };
}
