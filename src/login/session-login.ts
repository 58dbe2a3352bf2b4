// The two ends of every login, whatever the protocol (OIDC, OAuth 2.0, SAML, break-glass): consuming
// the pending login a browser started, and turning a verified identity into a fresh session.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Clock } from '../core/clock.js';
import { LoginStateInvalid } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { regenerateSession, saveSession } from '../session/express-session.js';
import type { LogoutHintCookie } from '../session/logout-hint-cookie.js';
import type { PendingLogin } from '../core/pending-login.js';
import { PENDING_LOGIN_TTL_MS } from '../session/session-data.js';

/**
 * Removes the pending login with this state from the session and returns it. It is consumed (and
 * the session saved) before anything else happens, so a replayed response finds nothing even if
 * this attempt fails later. Throws LoginStateInvalid when this browser started no such login.
 */
export async function consumePendingLogin(
  req: Request,
  providerId: string,
  state: string,
  clock: Clock,
): Promise<PendingLogin> {
  const pendings = req.session.pendingLogins ?? [];
  const match =
    state === '' ? undefined : pendings.find((p) => p.state === state && p.providerId === providerId);
  if (match === undefined)
    throw new LoginStateInvalid(`response for ${providerId} with no matching login in this session`);
  req.session.pendingLogins = pendings.filter((p) => p !== match);
  await saveSession(req);
  if (clock.now() - match.createdAt >= PENDING_LOGIN_TTL_MS) {
    throw new LoginStateInvalid(`response for ${providerId} after the login state expired`);
  }
  return match;
}

/** What a protocol hands over for its own logout (never logged, never sent upstream). */
export interface LoginExtras {
  /** For RP-initiated logout's id_token_hint. */
  idToken?: string;
}

export interface SessionLoginDeps {
  clock: Clock;
  logoutHint: LogoutHintCookie;
}

/**
 * A new session id at login (session fixation): nothing from the anonymous session carries over.
 * The ID token goes to the browser sealed for this session id, in a cookie only {prefix}/logout
 * receives (session/logout-hint-cookie.ts), not into the store; one too large for a cookie stays
 * in the session as before. A login without one clears an earlier login's hint.
 */
export async function establishSession(
  req: Request,
  res: Response,
  identity: Identity,
  extras: LoginExtras,
  deps: SessionLoginDeps,
): Promise<void> {
  await regenerateSession(req);
  req.session.identity = identity;
  req.session.authenticatedAt = deps.clock.now();
  req.session.csrfToken = randomBytes(24).toString('base64url');
  const { idToken } = extras;
  const sealed = idToken === undefined ? undefined : deps.logoutHint.seal(idToken, req.sessionID);
  if (idToken !== undefined && sealed === undefined) req.session.idToken = idToken;
  await saveSession(req);
  if (sealed === undefined) deps.logoutHint.clear(res);
  else deps.logoutHint.write(res, sealed);
}
