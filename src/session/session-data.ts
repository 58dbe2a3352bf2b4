// What a Portcullis session holds. express-session keeps it in the configured store; the hot path
// (session/lookup.ts) reads the same records without running express-session.
import type { Identity } from '../core/identity.js';
import type { PendingLogin } from '../core/pending-login.js';
import type { SamlSessionInfo } from '../core/saml-session.js';

declare module 'express-session' {
  interface SessionData {
    /** Set at login: the only thing the hot path needs. */
    identity: Identity;
    /** Epoch ms of the login; the absolute timeout counts from here and is never extended. */
    authenticatedAt: number;
    /**
     * For RP-initiated logout (id_token_hint), only when it was too large for the sealed logout hint
     * cookie (session/logout-hint-cookie.ts), where it normally lives. Never logged, never sent upstream.
     */
    idToken: string;
    /** Per-session token for the gateway's own forms (logout). */
    csrfToken: string;
    /** Logins in flight, newest last; a few at most (several tabs may start one each). */
    pendingLogins: readonly PendingLogin[];
    /** Set at a SAML login; read by logout (SP-initiated SLO) and by IdP-initiated SLO. */
    saml: SamlSessionInfo;
  }
}

/** A session's record as stored, before express-session wraps it. */
export interface StoredSessionRecord {
  cookie?: unknown;
  identity?: Identity;
  authenticatedAt?: number;
  idToken?: string;
  csrfToken?: string;
  pendingLogins?: readonly PendingLogin[];
  saml?: SamlSessionInfo;
}

/** Pre-login sessions (holding only login state) live this long. */
export const PENDING_LOGIN_TTL_MS = 10 * 60_000;
export const MAX_PENDING_LOGINS = 5;

export interface SessionTimeouts {
  idleMs: number;
  absoluteMs: number;
}

/** How long the store should keep a record from now: the idle window, cut at the absolute end. */
export function storeTtlMs(record: StoredSessionRecord, timeouts: SessionTimeouts, now: number): number {
  if (record.identity === undefined || record.authenticatedAt === undefined) return PENDING_LOGIN_TTL_MS;
  const absoluteLeft = record.authenticatedAt + timeouts.absoluteMs - now;
  return Math.min(timeouts.idleMs, absoluteLeft);
}
