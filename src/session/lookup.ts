// The hot path's session lookup: cookie → signed id → store record → timeouts. No express-session,
// no database, no IdP: everything it needs was put in the session at login.
import type { IncomingMessage } from 'node:http';
import signature from 'cookie-signature';
import { BoundedMap } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import { andThen, type MaybePromise } from '../core/maybe-async.js';
import { readCookie } from './cookie.js';
import type { SessionTimeouts, StoredSessionRecord } from './session-data.js';
import type { SessionReader } from './session-reader.js';

const VERIFIED_COOKIES_KEPT = 10_000;

export interface ActiveSession {
  readonly id: string;
  readonly identity: Identity;
  readonly authenticatedAt: number;
}

export interface SessionLookup {
  /** Synchronous when the store answers synchronously (memory store, session cache hit). */
  lookup(req: IncomingMessage): MaybePromise<ActiveSession | null>;
}

export function createSessionLookup(deps: {
  cookieName: string;
  /** First signs, all verify (rotation). */
  secrets: readonly string[];
  reader: SessionReader;
  timeouts: SessionTimeouts;
  clock: Clock;
}): SessionLookup {
  const { cookieName, secrets, reader, timeouts, clock } = deps;

  // Cookie values whose signature already verified, to their session id: a busy session costs one
  // HMAC, not one per request. Keyed by the exact signed value, so only a cookie that verified
  // before can hit; bounded, oldest first out.
  const verified = new BoundedMap<string, string>(VERIFIED_COOKIES_KEPT);

  function sessionIdFrom(req: IncomingMessage): string | null {
    const raw = readCookie(req.headers.cookie, cookieName);
    // express-session writes 's:' + id + '.' + HMAC-SHA256; anything else is not ours.
    if (raw === undefined || !raw.startsWith('s:')) return null;
    const known = verified.get(raw);
    if (known !== undefined) return known;
    const signed = raw.slice(2);
    for (const secret of secrets) {
      const id = signature.unsign(signed, secret);
      if (id !== false) {
        verified.set(raw, id);
        return id;
      }
    }
    return null;
  }

  function activeFrom(id: string, record: StoredSessionRecord | undefined): ActiveSession | null {
    if (record?.identity === undefined || record.authenticatedAt === undefined) return null;
    if (clock.now() >= record.authenticatedAt + timeouts.absoluteMs) return null;
    reader.extend(id, record);
    return { id, identity: record.identity, authenticatedAt: record.authenticatedAt };
  }

  return {
    lookup(req) {
      const id = sessionIdFrom(req);
      if (id === null) return null;
      return andThen(reader.read(id), (record) => activeFrom(id, record));
    },
  };
}
