// What happens between "the IdP vouched for this user" and "the session holds an identity":
// the directory record is created or updated (matched by provider + external id, never email),
// groups are synced under the provider's rules, and roles are derived from the groups.
import type { RolesConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { groupNamesOf, planGroupSync, type CompiledGroupRules } from '../core/groups.js';
import { subjectOf, type ExternalIdentity, type Identity } from '../core/identity.js';
import { acceptedEmail } from '../providers/accepted-email.js';
import { rolesFor } from '../core/roles.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../observability/logger.js';

export type LoginCompleter = (external: ExternalIdentity) => Promise<Identity>;

export function createLoginCompleter(deps: {
  directory: Directory;
  /** Group rules per provider id. */
  groupRules: ReadonlyMap<string, CompiledGroupRules>;
  roles: RolesConfig;
  clock: Clock;
  log: Logger;
}): LoginCompleter {
  return async function completeLogin(external) {
    const email = acceptedEmail(external, deps.log);
    const rules = deps.groupRules.get(external.providerId);
    if (rules === undefined) throw new Error(`no group rules for provider ${external.providerId}`);
    const user = await deps.directory.upsertExternalUser(
      {
        providerId: external.providerId,
        externalId: external.externalId,
        username: external.username,
        email,
        fullName: external.name,
      },
      deps.clock.now(),
    );
    const current = await deps.directory.memberships(user.id);
    const change = planGroupSync(current, external.groups, rules);
    if (change.add.length > 0 || change.remove.length > 0)
      await deps.directory.changeMemberships(user.id, change);
    const groups = groupNamesOf(
      change.add.length > 0 || change.remove.length > 0 ? await deps.directory.memberships(user.id) : current,
    );
    return {
      subject: subjectOf(external.providerId, external.externalId),
      providerId: external.providerId,
      userId: user.id,
      username: user.username,
      email: user.email,
      name: user.fullName,
      groups,
      roles: rolesFor(groups, deps.roles),
    };
  };
}
