// Who a break-glass user is: the name that names and limits compare, the provider id its sessions
// carry, and the roles it holds. Pure rules shared by the config checks and the login flow.
import { rolesFor, type RoleMap } from './roles.js';

/** The provider id of break-glass sessions (their subject is `local:<username>`). */
export const BREAK_GLASS_PROVIDER_ID = 'local';

/**
 * The form of a username that names and limits compare: NFKC (fullwidth and compatibility forms fold
 * to plain ones), trimmed, lowercased. 'Root', ' root ' and 'ｒｏｏｔ' are one user and share one limit.
 */
export function canonicalUsername(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

/** What a break-glass user is granted in the config. */
export interface BreakGlassGrants {
  /** Held directly. */
  readonly roles: readonly string[];
  /** Exactly these groups (default groups are for external users). */
  readonly groups: readonly string[];
}

/** Every role the user holds: the configured ones and those its groups map to, sorted. */
export function breakGlassRolesOf(user: BreakGlassGrants, roles: RoleMap): string[] {
  return [...new Set([...user.roles, ...rolesFor(user.groups, roles)])].sort();
}
