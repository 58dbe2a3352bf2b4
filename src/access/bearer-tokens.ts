// API clients: `Authorization: Bearer <access token>` on routes that accept it. Tokens are verified
// locally against the issuing provider's JWKS (never sent back to the IdP), and the verified
// identity is cached for the token's lifetime so the hot path verifies each token once.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { decodeJwt } from 'jose';
import { BoundedMap } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';
import { BearerTokenRejected } from '../core/errors.js';
import { filterIdpGroups, type CompiledGroupRules } from '../core/groups.js';
import { subjectOf, type Identity } from '../core/identity.js';
import { rolesFor, type RoleMap } from '../core/roles.js';
import type { Logger } from '../observability/logger.js';
import { acceptedEmail } from '../providers/accepted-email.js';
import type { IdentityProvider } from '../providers/identity-provider.js';

export interface BearerIdentity {
  identity: Identity;
  /** Stands in for a session id in the assertion cache. */
  cacheKey: string;
}

export interface BearerVerifier {
  verify(
    token: string,
    accepted: { providers: readonly string[]; audience: string },
  ): Promise<BearerIdentity>;
}

const MAX_CACHED_TOKENS = 10_000;
/** Verified identities are re-checked at least this often, even for long-lived tokens. */
const MAX_CACHE_MS = 5 * 60_000;

export function bearerTokenOf(headers: IncomingHttpHeaders): string | null {
  const value = headers.authorization;
  if (value === undefined) return null;
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(value.trim());
  return match?.[1] ?? null;
}

export function createBearerVerifier(deps: {
  providers: ReadonlyMap<string, IdentityProvider>;
  groupRules: ReadonlyMap<string, CompiledGroupRules>;
  roles: RoleMap;
  clock: Clock;
  log: Logger;
}): BearerVerifier {
  const cache = new BoundedMap<string, { result: BearerIdentity; validUntil: number }>(MAX_CACHED_TOKENS);

  function identityFor(
    providerId: string,
    external: Awaited<ReturnType<NonNullable<IdentityProvider['verifyAccessToken']>>>,
  ): Identity {
    const rules = deps.groupRules.get(providerId);
    // No directory on this path: groups come from the token alone, filtered by the provider's rules.
    const fromToken =
      rules === undefined || !rules.syncEnabled ? [] : filterIdpGroups(external.groups ?? [], rules);
    const groups = [...new Set([...(rules?.defaults ?? []), ...fromToken])].sort();
    return {
      subject: subjectOf(providerId, external.externalId),
      providerId,
      userId: null,
      username: external.username,
      email: acceptedEmail({ providerId, externalId: external.externalId, email: external.email }, deps.log),
      name: external.name,
      groups,
      roles: rolesFor(groups, deps.roles),
    };
  }

  return {
    async verify(token, accepted) {
      const digest = createHash('sha256').update(token).digest('base64url');
      const key = `${accepted.audience}\n${accepted.providers.join(',')}\n${digest}`;
      const now = deps.clock.now();
      const cached = cache.get(key);
      if (cached !== undefined && now < cached.validUntil) return cached.result;
      cache.delete(key);

      const failures: string[] = [];
      for (const providerId of accepted.providers) {
        const provider = deps.providers.get(providerId);
        if (provider?.verifyAccessToken === undefined) continue;
        try {
          const external = await provider.verifyAccessToken(token, accepted.audience);
          const result = { identity: identityFor(providerId, external), cacheKey: `bearer:${digest}` };
          const exp = decodeJwt(token).exp;
          const validUntil = Math.min(now + MAX_CACHE_MS, typeof exp === 'number' ? exp * 1000 : now);
          cache.set(key, { result, validUntil });
          return result;
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
      throw new BearerTokenRejected(failures.join('; ') || 'no accepted provider verifies bearer tokens');
    },
  };
}
