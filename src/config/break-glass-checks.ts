// Rules across breakGlass and the rest of the config (unique names, argon2id strength, reserved
// provider ids, an admin reachable while the IdPs are down); cross-checks.ts reports them.
import {
  BREAK_GLASS_PROVIDER_ID,
  breakGlassRolesOf,
  canonicalUsername,
} from '../core/break-glass-identity.js';
import { ARGON2ID_PHC, MIN_MEMORY_KIB, MIN_TIME_COST, NATIVE_LOGIN_SEGMENT } from './break-glass-schema.js';
import type { ConfigIssue } from './issues.js';
import type { Config } from './schema.js';

/** Whether some break-glass user holds the admin role. */
export function breakGlassReachesAdmin(config: Config): boolean {
  return config.breakGlass.users.some((user) => breakGlassRolesOf(user, config.roles).includes('admin'));
}

/** Rules across breakGlass and the rest of the config; cross-checks.ts reports them. */
export function breakGlassConfigIssues(config: Config): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const { users, rateLimit, showOnLoginPage } = config.breakGlass;

  const seen = new Map<string, number>();
  users.forEach((user, index) => {
    const canonical = canonicalUsername(user.username);
    const earlier = seen.get(canonical);
    if (earlier !== undefined) {
      errors.push({
        path: `breakGlass.users.${index}.username`,
        message: `is the same username as breakGlass.users.${earlier}.username (names match case-insensitively)`,
      });
    } else seen.set(canonical, index);

    const params = ARGON2ID_PHC.exec(user.passwordHash);
    if (params !== null && (Number(params[1]) < MIN_MEMORY_KIB || Number(params[2]) < MIN_TIME_COST)) {
      warnings.push({
        path: `breakGlass.users.${index}.passwordHash`,
        message: `uses argon2id parameters below the recommended minimum (m=${MIN_MEMORY_KIB}, t=${MIN_TIME_COST}): make a new one with portcullis hash-password`,
      });
    }
    // Unknown names are checked against a dummy hash with users.0's parameters: a user whose hash
    // costs more or less than that answers measurably slower or faster than a name nobody has.
    const first = ARGON2ID_PHC.exec(users[0]?.passwordHash ?? '');
    if (
      index > 0 &&
      params !== null &&
      first !== null &&
      params.slice(1, 4).join() !== first.slice(1, 4).join()
    ) {
      warnings.push({
        path: `breakGlass.users.${index}.passwordHash`,
        message:
          'uses other argon2id parameters than breakGlass.users.0: timing could tell this user from an unknown name; hash every password with the same parameters',
      });
    }
  });

  config.providers.forEach((provider, index) => {
    if (provider.id === NATIVE_LOGIN_SEGMENT) {
      errors.push({
        path: `providers.${index}.id`,
        message: `'${NATIVE_LOGIN_SEGMENT}' is reserved: ${config.server.prefix}/login/${NATIVE_LOGIN_SEGMENT} is the break-glass form`,
      });
    }
    if (provider.id === BREAK_GLASS_PROVIDER_ID && users.length > 0) {
      errors.push({
        path: `providers.${index}.id`,
        message: `'${BREAK_GLASS_PROVIDER_ID}' is reserved for break-glass users while breakGlass.users is set: their subjects are local:<username>, which this provider's users would share`,
      });
    }
  });

  if (!breakGlassReachesAdmin(config)) {
    warnings.push({
      path: 'breakGlass.users',
      message:
        'no break-glass user holds the admin role: while the identity providers are unreachable, no admin can sign in (add one with roles: [admin])',
    });
  }
  if (showOnLoginPage && users.length === 0) {
    warnings.push({
      path: 'breakGlass.showOnLoginPage',
      message: 'links the break-glass form, but breakGlass.users is empty',
    });
  }
  if (rateLimit.maxLockout < rateLimit.lockout) {
    errors.push({
      path: 'breakGlass.rateLimit.maxLockout',
      message: 'must not be shorter than breakGlass.rateLimit.lockout',
    });
  }
  return { errors, warnings };
}
