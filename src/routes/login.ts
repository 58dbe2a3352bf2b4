// /login (chooser), /login/:provider (start) and /callback/:provider (finish): the OIDC login flow.
// Login state (state, nonce, PKCE verifier, return URL) lives in the server-side session, so the
// callback may land on any replica that shares the store.
import { Router, type Request, type Response } from 'express';
import type { Clock } from '../core/clock.js';
import { UnknownProvider } from '../core/errors.js';
import { escapeHtml, renderPage, sendHtml, sendRedirect } from '../http/pages.js';
import { normalizeRequestTarget } from '../http/request-path.js';
import type { LoginCompleter } from '../login/complete-login.js';
import { createLoopGuard } from '../login/loop-guard.js';
import { addPendingLogin, consumePendingLogin } from '../login/pending-logins.js';
import { establishSession } from '../login/session-login.js';
import { safeReturnUrl, type ReturnUrlPolicy } from '../login/return-url.js';
import type { Logger } from '../observability/logger.js';
import type { RouteTable } from '../policy/route-table.js';
import type { IdentityProvider } from '../providers/identity-provider.js';
import type { SessionCookieSettings } from '../session/cookie.js';
import type { LogoutHintCookie } from '../session/logout-hint-cookie.js';

export interface LoginRoutesDeps {
  providers: ReadonlyMap<string, IdentityProvider>;
  routes: RouteTable;
  completeLogin: LoginCompleter;
  returnUrlPolicy: ReturnUrlPolicy;
  publicUrl: URL;
  prefix: string;
  cookie: SessionCookieSettings;
  /** Where the ID token is kept for RP-initiated logout (a cookie only {prefix}/logout receives). */
  logoutHint: LogoutHintCookie;
  clock: Clock;
  log: Logger;
  /** Link the break-glass form ({prefix}/login/native) from the chooser: breakGlass.showOnLoginPage with users configured. */
  showNativeLogin?: boolean;
}

export function createLoginRoutes(deps: LoginRoutesDeps): Router {
  const router = Router();
  const loopGuard = createLoopGuard(deps.cookie);

  const returnToFrom = (req: Request): string => {
    const rd = typeof req.query.rd === 'string' ? req.query.rd : undefined;
    return safeReturnUrl(rd, deps.returnUrlPolicy) ?? '/';
  };

  async function startLogin(req: Request, res: Response, provider: IdentityProvider): Promise<void> {
    const now = deps.clock.now();
    const round = loopGuard.countRound(req, provider.id, now);
    const { authorizationUrl, pending } = await provider.startLogin(returnToFrom(req), now);
    await addPendingLogin(req, pending);
    loopGuard.writeRound(res, round);
    sendRedirect(res, 302, authorizationUrl.href);
  }

  function providerFrom(req: Request): IdentityProvider {
    const provider = deps.providers.get(String(req.params.provider));
    if (provider === undefined) throw new UnknownProvider(`no provider '${String(req.params.provider)}'`);
    return provider;
  }

  /** The providers the return URL's route accepts (all of them when it names none), in config order. */
  function providersFor(returnTo: string): IdentityProvider[] {
    const all = [...deps.providers.values()];
    const target = new URL(returnTo, deps.publicUrl);
    const normalized = normalizeRequestTarget(target.pathname);
    const route = normalized.ok ? deps.routes.match(target.hostname, normalized.path) : null;
    const accepted = route?.providers;
    return accepted === null || accepted === undefined ? all : all.filter((p) => accepted.has(p.id));
  }

  router.get('/login', async (req, res) => {
    const returnTo = returnToFrom(req);
    const offered = providersFor(returnTo);
    const only = offered.length === 1 ? offered[0] : undefined;
    // The chooser stays up when it has the break-glass link to show, even for a single provider.
    if (only !== undefined && deps.showNativeLogin !== true) return startLogin(req, res, only);
    const rd = encodeURIComponent(returnTo);
    const buttons = offered
      .map(
        (p) =>
          `<a class="button" href="${escapeHtml(`${deps.prefix}/login/${p.id}?rd=${rd}`)}">Sign in with ${escapeHtml(p.displayName)}</a>`,
      )
      .join('\n');
    const native =
      deps.showNativeLogin === true
        ? `\n<p class="muted"><a href="${escapeHtml(`${deps.prefix}/login/native?rd=${rd}`)}">Administrator break-glass sign-in</a></p>`
        : '';
    sendHtml(res, 200, renderPage('Sign in', `<h1>Sign in</h1>\n${buttons}${native}`));
  });

  router.get('/login/:provider', (req, res) => startLogin(req, res, providerFrom(req)));

  router.get('/callback/:provider', async (req, res) => {
    const provider = providerFrom(req);
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const pending = await consumePendingLogin(req, provider.id, state, deps.clock);
    const callbackUrl = new URL(req.originalUrl, deps.publicUrl);
    const { external, idToken } = await provider.finishLogin(callbackUrl, pending);
    const identity = await deps.completeLogin(external);
    await establishSession(req, res, identity, idToken === undefined ? {} : { idToken }, deps);
    deps.log.info(
      { event: 'login', outcome: 'success', providerId: provider.id, subject: identity.subject },
      'signed in',
    );
    sendRedirect(res, 302, pending.returnTo);
  });

  return router;
}
