// The end of every login, whatever the protocol (OIDC, OAuth 2.0, SAML, break-glass): a verified
// identity becomes a fresh session, written once. (The pending login a browser started is
// pending-logins.ts's.)
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import type { SamlSessionInfo } from '../core/saml-session.js';
import { regenerateSession, saveSession } from '../session/express-session.js';
import type { LogoutHintCookie } from '../session/logout-hint-cookie.js';

/** What a protocol hands over for its own logout (never logged, never sent upstream). */
export interface LoginExtras {
  /** For RP-initiated logout's id_token_hint. */
  idToken?: string;
  /** SAML: the subject and IdP session, for single logout (SP- and IdP-initiated). */
  saml?: SamlSessionInfo;
}

export interface SessionLoginDeps {
  clock: Clock;
  logoutHint: LogoutHintCookie;
}

/**
 * A new session id at login (session fixation): nothing from the anonymous session carries over.
 * The ID token goes to the browser sealed for this session id, in a cookie only {prefix}/logout
 * receives (session/logout-hint-cookie.ts), not into the store; one too large for a cookie stays
 * in the session as before. A login without one clears an earlier login's hint. Everything the
 * session holds is set before its one write.
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
  if (extras.saml !== undefined) req.session.saml = extras.saml;
  const { idToken } = extras;
  const sealed = idToken === undefined ? undefined : deps.logoutHint.seal(idToken, req.sessionID);
  if (idToken !== undefined && sealed === undefined) req.session.idToken = idToken;
  await saveSession(req);
  if (sealed === undefined) deps.logoutHint.clear(res);
  else deps.logoutHint.write(res, sealed);
}
