// The logout hint: the OIDC ID token kept in the browser, sealed for one session, instead of in the
// server-side session record, where it was about half of a session's memory (issue 7). Only
// RP-initiated logout needs it (`id_token_hint`, OpenID Connect RP-Initiated Logout 1.0 §2), so
// the cookie's Path is {prefix}/logout: the browser sends it nowhere else, no proxied request ever
// carries it, and the hot path never sees it.
//
// Sealing: AES-256-GCM with a random 96-bit IV per seal and the session id as additional
// authenticated data, so a hint copied into another session's browser does not open there. The key
// is derived with HKDF-SHA256 from each session secret under a label of its own (the raw secrets
// also sign the session cookie); the first secret seals, all open, as for the session cookie.
// Value: base64url(IV ‖ ciphertext ‖ tag).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CookieOptions, Response } from 'express';
import { logoutHintCookieName, readCookie, type SessionCookieSettings } from './cookie.js';

const HKDF_INFO = 'portcullis/logout-hint/v1 aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/**
 * Browsers keep a cookie only when its name, value and attributes fit 4096 bytes (RFC 6265bis
 * §5.6); the margin covers the attributes' spelling differences. A larger hint stays in the session.
 */
export const MAX_LOGOUT_HINT_COOKIE_BYTES = 3800;

/** One AES-256-GCM key per session secret, in the secrets' order: the first seals, all open. */
export function deriveLogoutHintKeys(secrets: readonly string[]): Buffer[] {
  if (secrets.length === 0) throw new TypeError('at least one session secret is needed');
  return secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', HKDF_INFO, KEY_BYTES)));
}

export function sealLogoutHint(idToken: string, sessionId: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(sessionId, 'utf8'));
  const sealed = Buffer.concat([iv, cipher.update(idToken, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString('base64url');
}

/** The ID token, or undefined when the value was not sealed for this session id with one of these keys. */
export function openLogoutHint(
  value: string,
  sessionId: string,
  keys: readonly Buffer[],
): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  const sealed = Buffer.from(value, 'base64url');
  if (sealed.length <= IV_BYTES + TAG_BYTES) return undefined;
  const iv = sealed.subarray(0, IV_BYTES);
  const ciphertext = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  for (const key of keys) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(sessionId, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // Another key (an older secret), or not ours at all.
    }
  }
  return undefined;
}

export type LogoutHintRead =
  | { kind: 'absent' }
  /** Present, but tampered with, sealed for another session, or under a secret no longer configured. */
  | { kind: 'refused' }
  | { kind: 'opened'; idToken: string };

export interface LogoutHintCookie {
  readonly name: string;
  /** The cookie value for this session, or undefined when it would not fit a cookie (keep the token in the session then). */
  seal(idToken: string, sessionId: string): string | undefined;
  write(res: Response, sealed: string): void;
  read(req: IncomingMessage, sessionId: string): LogoutHintRead;
  /** Same Path, Domain and flags as when set, or the browser keeps it. */
  clear(res: Response): void;
}

export function createLogoutHintCookie(options: {
  cookie: SessionCookieSettings;
  /** session.secret: the first seals, all open. */
  secrets: readonly string[];
  prefix: string;
  /** The session's absolute timeout: the hint is of no use after it. */
  maxAgeMs: number;
}): LogoutHintCookie {
  const keys = deriveLogoutHintKeys(options.secrets);
  const sealKey = keys[0] as Buffer;
  const name = logoutHintCookieName(options.cookie);
  const attributes: CookieOptions = {
    httpOnly: true,
    secure: options.cookie.secure,
    sameSite: 'lax',
    path: `${options.prefix}/logout`,
    ...(options.cookie.domain === undefined ? {} : { domain: options.cookie.domain }),
  };
  // What the Set-Cookie header adds to name=value; Expires is a fixed-width IMF-fixdate.
  const attributesBytes = [
    `; Max-Age=${Math.floor(options.maxAgeMs / 1000)}`,
    options.cookie.domain === undefined ? '' : `; Domain=${options.cookie.domain}`,
    `; Path=${attributes.path ?? ''}`,
    '; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    '; HttpOnly',
    options.cookie.secure ? '; Secure' : '',
    '; SameSite=Lax',
  ].join('').length;

  return {
    name,
    seal(idToken, sessionId) {
      const sealed = sealLogoutHint(idToken, sessionId, sealKey);
      const bytes = name.length + 1 + sealed.length + attributesBytes;
      return bytes > MAX_LOGOUT_HINT_COOKIE_BYTES ? undefined : sealed;
    },
    write(res, sealed) {
      res.cookie(name, sealed, { ...attributes, maxAge: options.maxAgeMs });
    },
    read(req, sessionId) {
      const value = readCookie(req.headers.cookie, name);
      if (value === undefined || value === '') return { kind: 'absent' };
      const idToken = openLogoutHint(value, sessionId, keys);
      return idToken === undefined ? { kind: 'refused' } : { kind: 'opened', idToken };
    },
    clear(res) {
      res.clearCookie(name, attributes);
    },
  };
}
