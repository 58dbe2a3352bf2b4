// Roles are cumulative over groups: a user holds every role one of whose groups they are in.

/** Role name → the groups that grant it (the config's `roles:` section satisfies this shape). */
export type RoleMap = Readonly<Record<string, { readonly groups: readonly string[] }>>;

/** Sorted so headers and assertions are stable across logins. */
export function rolesFor(groups: readonly string[], roles: RoleMap): string[] {
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
export function roleMapReachesAdmin(roles: RoleMap): boolean {
  // Own property only: a role map is user input and 'admin' must not resolve through the prototype.
  return Object.hasOwn(roles, 'admin') && (roles['admin']?.groups.length ?? 0) > 0;
}
