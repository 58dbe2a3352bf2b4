// The gateway's cookies: the session cookie's name and flags (derived once from publicUrl and the
// session config), the names of the cookies that derive from it, reading one, and hiding them all
// from the apps behind the gateway.
import type { IncomingHttpHeaders } from 'node:http';
import type { SessionConfig } from '../config/schema.js';

export interface SessionCookieSettings {
  name: string;
  secure: boolean;
  domain: string | undefined;
}

export function sessionCookieSettings(publicUrl: URL, session: SessionConfig): SessionCookieSettings {
  const secure = publicUrl.protocol === 'https:';
  const domain = session.cookieDomain?.replace(/^\*\./, '.');
  // __Host- (RFC 6265bis §4.1.3.2): browsers accept it only with Secure, Path=/ and no Domain,
  // so a sibling subdomain cannot plant or overwrite it. With a Domain, __Secure- is the best left.
  const defaultName = !secure
    ? 'portcullis'
    : domain === undefined
      ? '__Host-portcullis'
      : '__Secure-portcullis';
  return { name: session.cookieName ?? defaultName, secure, domain };
}

/** The login-loop counter (login/loop-guard.ts): a cookie of its own, not in the session that may be failing. */
export function loginRoundsCookieName(cookie: Pick<SessionCookieSettings, 'name'>): string {
  return `${cookie.name}-rounds`;
}

/**
 * The sealed ID token for logout (session/logout-hint-cookie.ts): `<session cookie name>-logout`,
 * without the session cookie's own prefix: `__Host-` demands Path=/ (RFC 6265bis §4.1.3.2), which
 * would send the hint with every request. `__Secure-` (Secure required, any Path) is the strongest
 * prefix a path-scoped cookie can have; plain over http.
 */
export function logoutHintCookieName(cookie: Pick<SessionCookieSettings, 'name' | 'secure'>): string {
  const base = cookie.name.replace(/^__(?:host|secure)-/i, '');
  return `${cookie.secure ? '__Secure-' : ''}${base}-logout`;
}

/** Every cookie the gateway sets: the session, the login-loop counter and the logout hint. */
export function gatewayCookieNames(
  cookie: Pick<SessionCookieSettings, 'name' | 'secure'>,
): readonly string[] {
  return Object.freeze([cookie.name, loginRoundsCookieName(cookie), logoutHintCookieName(cookie)]);
}

/**
 * The app must not see the gateway's cookies, on public routes as on protected ones: with the
 * session cookie it could replay the user's session against every other app behind the gateway.
 */
export function hideGatewayCookies(headers: IncomingHttpHeaders, names: readonly string[]): void {
  const header = headers.cookie;
  if (header === undefined || !names.some((name) => header.includes(name))) return;
  // Most often the header is the session cookie alone.
  if (
    !header.includes(';') &&
    names.some(
      (name) => cookieNameEnd(header, skipCookieSpaces(header, 0, header.length), header.length, name) !== -1,
    )
  ) {
    delete headers.cookie;
    return;
  }
  // One pass over the header without splitting it: this runs on every request that has a session.
  let kept = '';
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const pair = skipCookieSpaces(header, start, end);
    if (pair < end && !names.some((name) => cookieNameEnd(header, pair, end, name) !== -1)) {
      kept =
        kept === '' ? header.slice(pair, end).trimEnd() : `${kept}; ${header.slice(pair, end).trimEnd()}`;
    }
    start = end + 1;
  }
  if (kept === '') delete headers.cookie;
  else headers.cookie = kept;
}

/**
 * The first value of one cookie in a Cookie header, percent-decoded; undefined when absent.
 * The first occurrence wins, as in express-session (the `cookie` package), so the hot path and
 * the gateway routes always pick the same cookie when a client sends the name twice.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = cookieNameEnd(header, skipCookieSpaces(header, start, end), end, name);
    if (eq !== -1 && eq < end) {
      let value = header.slice(eq + 1, end).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      try {
        return value.includes('%') ? decodeURIComponent(value) : value;
      } catch {
        return value;
      }
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * Whether the cookie pair at header[from, end) is named `name` (spaces allowed before its '='):
 * the index of its '=' (or `end` for a pair without one), else -1. Compares in place: cookie
 * headers are read on every request.
 */
export function cookieNameEnd(header: string, from: number, end: number, name: string): number {
  if (!header.startsWith(name, from)) return -1;
  const after = skipCookieSpaces(header, from + name.length, end);
  return after === end || header.charCodeAt(after) === 0x3d ? after : -1;
}

export function skipCookieSpaces(text: string, from: number, end: number): number {
  let at = from;
  while (at < end && (text.charCodeAt(at) === 0x20 || text.charCodeAt(at) === 0x09)) at += 1;
  return at;
}
