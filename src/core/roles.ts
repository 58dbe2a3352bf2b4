// Roles are cumulative over groups: a user holds every role one of whose groups they are in.
import type { RolesConfig } from '../config/schema.js';

/** Sorted so headers and assertions are stable across logins. */
export function rolesFor(groups: readonly string[], roles: RolesConfig): string[] {
  const held = new Set(groups);
  return Object.entries(roles)
    .filter(([, role]) => role.groups.some((group) => held.has(group)))
    .map(([name]) => name)
    .sort();
}

/**
 * Whether some group can make a user an admin. Config cross-checks refuse a role map that reaches no admin
 * (and no break-glass user does either): admins must never be able to lock themselves out.
 */
export function roleMapReachesAdmin(roles: RolesConfig): boolean {
  // Own property only: a role map is user input and 'admin' must not resolve through the prototype.
  return Object.hasOwn(roles, 'admin') && (roles['admin']?.groups.length ?? 0) > 0;
}
