// The signed identity assertion (a short-lived ES256 JWT) that apps verify with /jwks.json.
// Minted once per session and route and reused until shortly before it expires, so the hot path
// almost never signs.
import { SignJWT } from 'jose';
import { BoundedMap } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import type { SigningKeyRing } from './signing-keys.js';

export interface AssertionMinter {
  /** A cached token (synchronously) or a freshly signed one. */
  assertionFor(sessionId: string, identity: Identity, audience: string): string | Promise<string>;
}

interface CachedAssertion {
  token: string;
  refreshAt: number;
}

/** Re-mint when less than this share of the lifetime is left, so an app never receives an almost-expired token. */
const REFRESH_AT_SHARE = 0.5;
const MAX_CACHED = 200_000;

export function createAssertionMinter(deps: {
  keys: SigningKeyRing;
  issuer: string;
  ttlMs: number;
  clock: Clock;
}): AssertionMinter {
  // Session → audience → token. Two map lookups instead of one on a concatenated key, which would
  // build and hash a new string on every request. Beyond MAX_CACHED sessions the oldest goes.
  const cache = new BoundedMap<string, Map<string, CachedAssertion>>(MAX_CACHED);

  async function mint(sessionId: string, identity: Identity, audience: string): Promise<string> {
    const now = deps.clock.now();
    const iat = Math.floor(now / 1000);
    const ttlSeconds = Math.floor(deps.ttlMs / 1000);
    const token = await new SignJWT({
      email: identity.email,
      name: identity.name,
      preferred_username: identity.username,
      groups: identity.groups,
      roles: identity.roles,
      idp: identity.providerId,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: deps.keys.current.kid })
      .setIssuer(deps.issuer)
      .setAudience(audience)
      .setSubject(identity.subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(deps.keys.current.privateKey);
    let bySession = cache.get(sessionId);
    if (bySession === undefined) {
      bySession = new Map();
      cache.set(sessionId, bySession);
    }
    bySession.set(audience, { token, refreshAt: now + deps.ttlMs * REFRESH_AT_SHARE });
    return token;
  }

  return {
    assertionFor(sessionId, identity, audience) {
      const cached = cache.get(sessionId)?.get(audience);
      if (cached !== undefined && deps.clock.now() < cached.refreshAt) return cached.token;
      return mint(sessionId, identity, audience);
    },
  };
}
