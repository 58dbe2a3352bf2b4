// /logout: GET shows a confirmation form, POST (CSRF-safe) ends the session here and then at the IdP
// (RP-initiated logout) when it has an end_session_endpoint. /logged-out is where the IdP sends the
// browser back. The ID token for id_token_hint comes from the session when it was too large for a
// cookie, else from the sealed logout hint cookie (session/logout-hint-cookie.ts), which only this
// path receives.
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import { CsrfRejected } from '../core/errors.js';
import { escapeHtml, renderPage, sendHtml, sendRedirect } from '../http/pages.js';
import type { Logger } from '../observability/logger.js';
import type { EndedSession, IdentityProvider } from '../providers/identity-provider.js';
import type { SessionCookieSettings } from '../session/cookie.js';
import { destroySession } from '../session/express-session.js';
import type { LogoutHintCookie } from '../session/logout-hint-cookie.js';

export interface LogoutRoutesDeps {
  providers: ReadonlyMap<string, IdentityProvider>;
  publicUrl: URL;
  prefix: string;
  cookie: SessionCookieSettings;
  logoutHint: LogoutHintCookie;
  log: Logger;
}

export function createLogoutRoutes(deps: LogoutRoutesDeps): Router {
  const router = Router();
  const loggedOutUrl = new URL(`${deps.prefix}/logged-out`, deps.publicUrl).href;

  router.get('/logout', (req, res) => {
    const token = req.session.identity === undefined ? undefined : req.session.csrfToken;
    const body =
      token === undefined
        ? `<h1>Signed out</h1><p>You are not signed in.</p>`
        : `<h1>Sign out</h1><p>Signed in as <strong>${escapeHtml(req.session.identity?.username ?? '')}</strong>.</p>
<form method="post" action="${escapeHtml(`${deps.prefix}/logout`)}">
<input type="hidden" name="csrf" value="${escapeHtml(token)}"><button type="submit">Sign out</button></form>`;
    sendHtml(res, 200, renderPage('Sign out', body));
  });

  router.post('/logout', async (req, res) => {
    if (!isSameOriginPost(req, deps.publicUrl) && !hasValidCsrfToken(req)) {
      throw new CsrfRejected('logout without a same-origin Origin header or a valid CSRF token');
    }
    const identity = req.session.identity;
    const idToken = identity === undefined ? undefined : (req.session.idToken ?? idTokenFromHint(req));
    // What the ended session held, for providers that log out by subject (SAML: NameID, SessionIndex).
    const ended: EndedSession = { saml: req.session.saml };
    await destroySession(req);
    // Secure as when set: browsers ignore a __Host-/__Secure- cookie without it, even to clear it.
    res.clearCookie(deps.cookie.name, {
      path: '/',
      secure: deps.cookie.secure,
      ...(deps.cookie.domain === undefined ? {} : { domain: deps.cookie.domain }),
    });
    deps.logoutHint.clear(res);
    if (identity !== undefined) {
      deps.log.info(
        { event: 'logout', outcome: 'success', providerId: identity.providerId, subject: identity.subject },
        'signed out',
      );
    }
    const provider = identity === undefined ? undefined : deps.providers.get(identity.providerId);
    const endSession = await provider?.endSessionUrl(idToken, loggedOutUrl, ended);
    sendRedirect(res, 303, endSession?.href ?? loggedOutUrl);
  });

  /** Sealed for this very session, or nothing: the IdP then asks the user, or ends no session. */
  function idTokenFromHint(req: Request): string | undefined {
    const hint = deps.logoutHint.read(req, req.sessionID);
    if (hint.kind === 'opened') return hint.idToken;
    deps.log.debug(
      { event: 'logout-hint', outcome: hint.kind },
      hint.kind === 'absent'
        ? 'no logout hint cookie: logout without id_token_hint'
        : 'logout hint cookie does not open for this session: logout without id_token_hint',
    );
    return undefined;
  }

  router.get('/logged-out', (_req, res) => {
    sendHtml(
      res,
      200,
      renderPage(
        'Signed out',
        `<h1>Signed out</h1><p>You have been signed out.</p><a class="button" href="/">Sign in again</a>`,
      ),
    );
  });

  return router;
}

/** Browsers send Origin on every POST; a cross-site form or fetch cannot forge it. */
function isSameOriginPost(req: Request, publicUrl: URL): boolean {
  const origin = req.headers.origin;
  return origin !== undefined && origin === publicUrl.origin;
}

function hasValidCsrfToken(req: Request): boolean {
  const expected = req.session.csrfToken;
  const body: unknown = req.body;
  const given =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>).csrf : undefined;
  if (expected === undefined || typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
