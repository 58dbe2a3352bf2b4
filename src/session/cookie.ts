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
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
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
