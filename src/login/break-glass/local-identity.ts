// Who a break-glass attempt is about: the configured user a typed name means (compared in canonical
// form, core/break-glass-identity.ts), the identity a successful sign-in carries (provider `local`,
// subject `local:<username>`, no directory user), and the name the audit trail records.
import type { BreakGlassUserConfig } from '../../config/break-glass-schema.js';
import {
  BREAK_GLASS_PROVIDER_ID,
  breakGlassRolesOf,
  canonicalUsername,
} from '../../core/break-glass-identity.js';
import { subjectOf, type Identity } from '../../core/identity.js';
import type { RoleMap } from '../../core/roles.js';

/** Longer names match no user (the config refuses them too); they are still limited and audited. */
export const MAX_USERNAME_LENGTH = 256;

export interface TypedName {
  /** What limits count under: bounded, so a huge input costs no huge normalisation. */
  canonical: string;
  /** The configured user of that name, if any. */
  user: BreakGlassUserConfig | undefined;
}

/** Looks typed names up among the configured users. */
export function createUserLookup(users: readonly BreakGlassUserConfig[]): (typed: string) => TypedName {
  const byName = new Map<string, BreakGlassUserConfig>(
    users.map((user) => [canonicalUsername(user.username), user]),
  );
  return (typed) => {
    const canonical = canonicalUsername(typed.slice(0, MAX_USERNAME_LENGTH * 4));
    return { canonical, user: typed.length <= MAX_USERNAME_LENGTH ? byName.get(canonical) : undefined };
  };
}

/** The identity of a break-glass session: groups exactly as configured, roles from them and the user's own. */
export function localIdentityOf(canonical: string, user: BreakGlassUserConfig, roles: RoleMap): Identity {
  return {
    subject: subjectOf(BREAK_GLASS_PROVIDER_ID, canonical),
    providerId: BREAK_GLASS_PROVIDER_ID,
    userId: null,
    username: user.username,
    email: user.email ?? null,
    name: user.name ?? null,
    groups: [...new Set(user.groups)].sort(),
    roles: breakGlassRolesOf(user, roles),
  };
}

/** Who the audit names: the name as typed, bounded; control characters would garble a log line. */
export function auditActorOf(username: string): string {
  return username
    .trim()
    .slice(0, MAX_USERNAME_LENGTH)
    .replace(/[\u0000-\u001f\u007f]/g, '?');
}
