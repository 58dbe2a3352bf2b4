// The session cookie's name and flags, derived once from publicUrl and the session config.
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
