// Logins in flight, kept in the browser's server-side session between the redirect to the IdP and
// its answer: added when a sign-in starts, found and consumed when the answer comes back. Both ends
// live here so the rules (at most five, ten minutes each, consumed before verification) are in one place.
import type { Request } from 'express';
import type { Clock } from '../core/clock.js';
import { LoginStateInvalid } from '../core/errors.js';
import type { PendingLogin } from '../core/pending-login.js';
import { saveSession } from '../session/express-session.js';
import { MAX_PENDING_LOGINS, PENDING_LOGIN_TTL_MS } from '../session/session-data.js';

/**
 * Adds a login this browser starts and saves the session: entries expired by the new one's start are
 * dropped, and of the rest only the newest MAX_PENDING_LOGINS are kept (several tabs may each start one).
 */
export async function addPendingLogin(req: Request, pending: PendingLogin): Promise<void> {
  const now = pending.createdAt;
  const stillValid = (req.session.pendingLogins ?? []).filter(
    (p) => now - p.createdAt < PENDING_LOGIN_TTL_MS,
  );
  req.session.pendingLogins = [...stillValid, pending].slice(-MAX_PENDING_LOGINS);
  await saveSession(req);
}

/** Whether this browser started a login at `providerId` with this state (an empty state never matches). */
export function hasPendingLogin(req: Request, providerId: string, state: string): boolean {
  return (req.session.pendingLogins ?? []).some(
    (pending) => pending.providerId === providerId && pending.state === state && state !== '',
  );
}

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
