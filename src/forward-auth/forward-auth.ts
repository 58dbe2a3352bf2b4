// {prefix}/auth: the forward-auth decision for ingress controllers. It answers the same question as
// the proxy path — same route table, same policy, same identity headers — but instead of forwarding
// it replies: 2xx with the identity headers for the ingress to copy upstream, 401 (nginx redirects
// to its auth-signin) or a 302 to sign in (Traefik, Envoy: they pass our answer to the browser), 403.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AccessJudge } from '../access/judge.js';
import { ForwardAuthRefused, type GatewayError } from '../core/errors.js';
import { GATEWAY_RESPONSE_HEADER } from '../core/header-names.js';
import type { ClientAddressing } from '../http/client-address.js';
import { isBrowserNavigation } from '../http/client-kind.js';
import { sendError } from '../http/error-response.js';
import { sendLoginRequired, sendRedirect } from '../http/pages.js';
import { normalizedHost, normalizeRequestTarget } from '../http/request-path.js';
import type { Logger } from '../observability/logger.js';
import type { RouteTable } from '../policy/route-table.js';
import { setIdentityHeaders, type IdentityHeaderPlan } from '../proxy/identity-headers.js';
import { protectedRequestOf } from './protected-request.js';

export interface ForwardAuthDeps {
  authPath: string;
  publicUrl: URL;
  routes: RouteTable;
  headerPlan: IdentityHeaderPlan;
  addressing: ClientAddressing;
  log: Logger;
  judge: AccessJudge;
  /** login/sign-in-url.ts: `{prefix}/login?rd=<original request>`. */
  signInUrl(protocol: string, requestHost: string, pathAndQuery: string): string;
}

export interface ForwardAuth {
  answer(req: IncomingMessage, res: ServerResponse, path: string, search: string): void;
}

type Outcome =
  | { kind: 'allow'; identityHeaders: IncomingHttpHeaders }
  | { kind: 'error'; error: GatewayError }
  | { kind: 'login'; loginUrl: string; redirect: boolean };

/** Refusals are 403, never 400: nginx turns any status but 2xx/401/403 into a 500 for the user. */
function refused(reason: string): Outcome {
  return { kind: 'error', error: new ForwardAuthRefused(reason) };
}

export function createForwardAuth(deps: ForwardAuthDeps): ForwardAuth {
  const defaultProto = deps.publicUrl.protocol === 'https:' ? 'https' : 'http';

  /** What the original request earns; `respond` writes it. */
  async function examine(req: IncomingMessage, path: string, search: string): Promise<Outcome> {
    const parsed = protectedRequestOf(
      req.method ?? 'GET',
      path,
      search,
      req.headers,
      deps.authPath,
      deps.addressing.isTrustedPeer(req),
      defaultProto,
    );
    if (!parsed.ok) return refused(parsed.reason);
    const original = parsed.request;
    const target = normalizeRequestTarget(original.target);
    if (!target.ok) return refused(`original request target refused: ${target.reason}`);
    const host = normalizedHost(original.host, deps.publicUrl);
    if (host === null) return refused('original Host is invalid');
    const route = deps.routes.match(host, target.path);
    if (route === null) return refused(`no route for ${host}${target.path} (default deny)`);

    const judgement = await deps.judge.judge(req, route);
    switch (judgement.kind) {
      case 'public':
        return { kind: 'allow', identityHeaders: {} };
      case 'allow': {
        const identityHeaders: IncomingHttpHeaders = {};
        setIdentityHeaders(identityHeaders, deps.headerPlan, judgement.identity, judgement.assertion);
        return { kind: 'allow', identityHeaders };
      }
      case 'deny':
        return { kind: 'error', error: judgement.error };
      case 'login':
        return {
          kind: 'login',
          loginUrl: deps.signInUrl(`${original.proto}:`, original.host, target.path + target.search),
          // nginx turns anything but 2xx/401/403 into a 500 and redirects on 401 itself (auth-signin).
          redirect: original.mode !== 'nginx' && isBrowserNavigation(original.method, req.headers),
        };
    }
  }

  function respond(req: IncomingMessage, res: ServerResponse, outcome: Outcome): void {
    switch (outcome.kind) {
      case 'allow':
        return allow(res, outcome.identityHeaders);
      case 'error':
        return sendError(outcome.error, req, res, deps.log);
      case 'login':
        if (outcome.redirect) return sendRedirect(res, 302, outcome.loginUrl);
        return sendLoginRequired(res, outcome.loginUrl);
    }
  }

  return {
    answer(req, res, path, search) {
      examine(req, path, search).then(
        (outcome) => respond(req, res, outcome),
        (err: unknown) => sendError(err, req, res, deps.log),
      );
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
