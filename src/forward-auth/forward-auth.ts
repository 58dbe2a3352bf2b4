// {prefix}/auth: the forward-auth decision for ingress controllers. It answers the same question as
// the proxy path — same route table, same policy, same identity headers — but instead of forwarding
// it replies: 2xx with the identity headers for the ingress to copy upstream, 401 (nginx redirects
// to its auth-signin) or a 302 to sign in (Traefik, Envoy: they pass our answer to the browser), 403.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { ForwardAuthRefused } from '../core/errors.js';
import type { MaybePromise } from '../core/maybe-async.js';
import { GATEWAY_RESPONSE_HEADER } from '../core/header-names.js';
import type { ClientAddressing } from '../http/client-address.js';
import { isBrowserNavigation } from '../http/client-kind.js';
import { sendError } from '../http/error-response.js';
import type { Judgement } from '../http/front-door.js';
import { normalizedHost } from '../http/front-door.js';
import { sendJson, sendRedirect } from '../http/pages.js';
import { normalizeRequestTarget } from '../http/request-path.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledRoute, RouteTable } from '../policy/route-table.js';
import { setIdentityHeaders, type IdentityHeaderPlan } from '../proxy/identity-headers.js';
import { protectedRequestOf } from './protected-request.js';

export interface ForwardAuthDeps {
  authPath: string;
  publicUrl: URL;
  routes: RouteTable;
  headerPlan: IdentityHeaderPlan;
  addressing: ClientAddressing;
  log: Logger;
  judge(req: IncomingMessage, route: CompiledRoute): MaybePromise<Judgement>;
  loginUrlFor(protocol: string, requestHost: string, pathAndQuery: string): string;
}

export interface ForwardAuth {
  answer(req: IncomingMessage, res: ServerResponse, path: string, search: string): void;
}

export function createForwardAuth(deps: ForwardAuthDeps): ForwardAuth {
  const defaultProto = deps.publicUrl.protocol === 'https:' ? 'https' : 'http';

  /** Refusals are 403, never 400: nginx turns any status but 2xx/401/403 into a 500 for the user. */
  function refuse(req: IncomingMessage, res: ServerResponse, reason: string): void {
    sendError(new ForwardAuthRefused(reason), req, res, deps.log);
  }

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    search: string,
  ): Promise<void> {
    const parsed = protectedRequestOf(
      req.method ?? 'GET',
      path,
      search,
      req.headers,
      deps.authPath,
      deps.addressing.isTrustedPeer(req),
      defaultProto,
    );
    if (!parsed.ok) return refuse(req, res, parsed.reason);
    const original = parsed.request;
    const target = normalizeRequestTarget(original.target);
    if (!target.ok) return refuse(req, res, `original request target refused: ${target.reason}`);
    const host = normalizedHost(original.host, deps.publicUrl);
    if (host === null) return refuse(req, res, 'original Host is invalid');
    const route = deps.routes.match(host, target.path);
    if (route === null) return refuse(req, res, `no route for ${host}${target.path} (default deny)`);

    const judgement = await deps.judge(req, route);
    switch (judgement.kind) {
      case 'public':
        return allow(res, {});
      case 'allow': {
        const identityHeaders: IncomingHttpHeaders = {};
        setIdentityHeaders(identityHeaders, deps.headerPlan, judgement.identity, judgement.assertion);
        return allow(res, identityHeaders);
      }
      case 'deny':
        return sendError(judgement.error, req, res, deps.log);
      case 'login': {
        const loginUrl = deps.loginUrlFor(`${original.proto}:`, original.host, target.path + target.search);
        if (original.mode !== 'nginx' && isBrowserNavigation(original.method, req.headers)) {
          return sendRedirect(res, 302, loginUrl);
        }
        return sendJson(res, 401, {
          error: 'PC_LOGIN_REQUIRED',
          message: 'Sign-in required.',
          login: loginUrl,
        });
      }
    }
  }

  return {
    answer(req, res, path, search) {
      answer(req, res, path, search).catch((err: unknown) => sendError(err, req, res, deps.log));
    },
  };
}

function allow(res: ServerResponse, identityHeaders: IncomingHttpHeaders): void {
  res.writeHead(200, {
    ...(identityHeaders as Record<string, string>),
    [GATEWAY_RESPONSE_HEADER]: 'gateway',
    'cache-control': 'no-store',
    'content-length': 0,
  });
  res.end();
}
