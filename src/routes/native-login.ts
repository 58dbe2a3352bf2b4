// {prefix}/login/native: the break-glass form. GET renders it with a CSRF token bound to this
// browser's session; POST checks the token, then the credentials (login/break-glass/), and on
// success opens a session like any other login. Reachable whether or not the chooser links it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Router, type Request, type Response } from 'express';
import type { Clock } from '../core/clock.js';
import { CsrfRejected } from '../core/errors.js';
import { escapeHtml, renderPage, sendHtml, sendRedirect } from '../http/pages.js';
import type { BreakGlass } from '../login/break-glass/attempts.js';
import { safeReturnUrl, type ReturnUrlPolicy } from '../login/return-url.js';
import { establishSession } from '../login/session-login.js';
import { saveSession } from '../session/express-session.js';
import type { LogoutHintCookie } from '../session/logout-hint-cookie.js';

export interface NativeLoginRoutesDeps {
  breakGlass: BreakGlass;
  /** The client's IP as the trusted proxy chain reports it. */
  clientIp: (req: IncomingMessage) => string;
  returnUrlPolicy: ReturnUrlPolicy;
  prefix: string;
  clock: Clock;
  /** Cleared at sign-in: a break-glass session has no ID token. */
  logoutHint: LogoutHintCookie;
}

/** The one message for an unknown name and a wrong password: it must not tell them apart. */
export const NATIVE_LOGIN_REFUSED = 'Wrong username or password.';

export function createNativeLoginRoutes(deps: NativeLoginRoutesDeps): Router {
  const router = Router();
  const path = '/login/native';

  const returnToOf = (value: unknown): string =>
    safeReturnUrl(typeof value === 'string' ? value : undefined, deps.returnUrlPolicy) ?? '/';

  router.get(path, async (req, res) => {
    let token = req.session.csrfToken;
    if (token === undefined) {
      // A pre-login session holds the token; like pending logins, the store drops it after ten minutes.
      token = randomBytes(24).toString('base64url');
      req.session.csrfToken = token;
      await saveSession(req);
    }
    renderForm(res, 200, { csrf: token, returnTo: returnToOf(req.query.rd), username: '', error: null });
  });

  router.post(path, async (req, res) => {
    const form = fieldsOf(req.body);
    const clientIp = deps.clientIp(req);
    if (!hasValidCsrfToken(req, form.csrf)) {
      await deps.breakGlass.recordRefusedForm({ username: form.username, clientIp, reason: 'csrf-rejected' });
      throw new CsrfRejected('break-glass sign-in without a valid CSRF token');
    }
    const csrf = form.csrf;
    const returnTo = returnToOf(form.rd);
    const outcome = await deps.breakGlass.attempt(
      { username: form.username, password: form.password, clientIp },
      (identity) => establishSession(req, res, identity, {}, deps),
    );
    switch (outcome.kind) {
      case 'success':
        sendRedirect(res, 303, returnTo);
        return;
      case 'refused':
        renderForm(res, 401, { csrf, returnTo, username: form.username, error: NATIVE_LOGIN_REFUSED });
        return;
      case 'rate-limited': {
        const seconds = Math.ceil(outcome.retryAfterMs / 1000);
        renderForm(
          res,
          429,
          {
            csrf,
            returnTo,
            username: form.username,
            error: `Too many failed sign-in attempts. Try again in ${describeWait(seconds)}.`,
          },
          { 'retry-after': String(seconds) },
        );
        return;
      }
    }
  });

  function renderForm(
    res: Response,
    status: number,
    view: { csrf: string; returnTo: string; username: string; error: string | null },
    headers: Record<string, string> = {},
  ): void {
    const action = `${deps.prefix}${path}`;
    const sso = `${deps.prefix}/login?rd=${encodeURIComponent(view.returnTo)}`;
    const error = view.error === null ? '' : `<p class="error" role="alert">${escapeHtml(view.error)}</p>\n`;
    const body = `<style>
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{display:block;width:100%;box-sizing:border-box;padding:.55rem .6rem;border:1px solid #c5cad3;border-radius:6px;font-size:1rem}
.error{background:#fdecea;color:#8a1c12;border-radius:6px;padding:.6rem .8rem}
</style>
<h1>Break-glass sign-in</h1>
<p class="muted">Local accounts for administrators, for when single sign-on is unavailable. Every attempt is recorded.</p>
${error}<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<input type="hidden" name="rd" value="${escapeHtml(view.returnTo)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(view.username.slice(0, 256))}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="muted"><a href="${escapeHtml(sso)}">Sign in with single sign-on instead</a></p>`;
    sendHtml(res, status, renderPage('Break-glass sign-in', body), headers);
  }

  return router;
}

interface NativeLoginForm {
  csrf: string;
  username: string;
  password: string;
  rd: string | undefined;
}

function fieldsOf(body: unknown): NativeLoginForm {
  const fields = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  return {
    csrf: text(fields.csrf),
    username: text(fields.username),
    password: text(fields.password),
    rd: typeof fields.rd === 'string' ? fields.rd : undefined,
  };
}

/** The token must be the one this session was given; no Origin shortcut here (unlike logout). */
function hasValidCsrfToken(req: Request, given: string): boolean {
  const expected = req.session.csrfToken;
  if (expected === undefined || given === '') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function describeWait(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
