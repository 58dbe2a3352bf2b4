// Break-glass (breakGlass:): the exempt users who may sign in with local credentials at
// {prefix}/login/native when every IdP is down, and the brute-force limits on that form.
import { z } from 'zod';
import { rolesFor } from '../core/roles.js';
import type { ConfigIssue } from './issues.js';
import { groupName } from './group-sync-schema.js';
import type { Config } from './schema.js';
import { durationBetween } from './schema-parts.js';

/** The provider id of break-glass sessions (their subject is `local:<username>`). */
export const BREAK_GLASS_PROVIDER_ID = 'local';
/** {prefix}/login/native is the break-glass form, so no provider may be called 'native'. */
export const NATIVE_LOGIN_SEGMENT = 'native';

/** OWASP's floor for argon2id (m=19 MiB, t=2, p=1); below it a stolen hash is cheap to attack. */
const MIN_MEMORY_KIB = 19_456;
const MIN_TIME_COST = 2;

/** A PHC string as `portcullis hash-password` prints it. The message never echoes the value. */
const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

/**
 * The form of a username that names and limits compare: NFKC (fullwidth and compatibility forms fold
 * to plain ones), trimmed, lowercased. 'Root', ' root ' and 'ｒｏｏｔ' are one user and share one limit.
 */
export function canonicalUsername(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'role names are lowercase letters, digits, _ or -');

export const breakGlassUserSchema = z.strictObject({
  /** The name typed on the form (an email address is fine). Matched trimmed, case-insensitively, NFKC-normalised. */
  username: z
    .string()
    .max(256)
    .refine((name) => canonicalUsername(name) !== '', 'must not be empty'),
  /** argon2id hash from `portcullis hash-password` (or passwordHashFile). */
  passwordHash: z
    .string()
    .trim()
    .refine(
      (text) => ARGON2ID_PHC.test(text),
      'must be an argon2id hash as printed by `portcullis hash-password` ($argon2id$v=19$m=...,t=...,p=...$salt$hash)',
    ),
  /** Sent to apps as the user's email. */
  email: z.string().min(3).max(256).optional(),
  /** Sent to apps as the display name. */
  name: z.string().min(1).max(256).optional(),
  /** Held directly, besides any role the groups below map to. */
  roles: z.array(roleName).default([]),
  /** Exactly these (the default groups are for external users). */
  groups: z.array(groupName).default([]),
});

const RATE_LIMIT_DEFAULTS = {
  maxFailuresPerUser: 5,
  maxFailuresPerIp: 20,
  window: 15 * 60_000,
  lockout: 60_000,
  maxLockout: 3_600_000,
};

export const breakGlassRateLimitSchema = z
  .strictObject({
    /** Wrong attempts for one username (whoever sends them) before it is locked out. */
    maxFailuresPerUser: z.number().int().min(1).max(1000).default(RATE_LIMIT_DEFAULTS.maxFailuresPerUser),
    /** Wrong attempts from one client IP (any usernames) before it is locked out. */
    maxFailuresPerIp: z.number().int().min(1).max(100_000).default(RATE_LIMIT_DEFAULTS.maxFailuresPerIp),
    /** Failures are counted over this window. */
    window: durationBetween(1_000, 86_400_000, '1s', '1d').default(RATE_LIMIT_DEFAULTS.window),
    /** The first lockout; each further one within a day doubles it, up to maxLockout. */
    lockout: durationBetween(1_000, 86_400_000, '1s', '1d').default(RATE_LIMIT_DEFAULTS.lockout),
    maxLockout: durationBetween(1_000, 7 * 86_400_000, '1s', '7d').default(RATE_LIMIT_DEFAULTS.maxLockout),
  })
  .default(RATE_LIMIT_DEFAULTS);

export const breakGlassSchema = z
  .strictObject({
    users: z.array(breakGlassUserSchema).default([]),
    /** Link the native form from the login chooser. The route is reachable either way. */
    showOnLoginPage: z.boolean().default(false),
    rateLimit: breakGlassRateLimitSchema,
  })
  .default({ users: [], showOnLoginPage: false, rateLimit: RATE_LIMIT_DEFAULTS });

export type BreakGlassConfig = z.output<typeof breakGlassSchema>;
export type BreakGlassUserConfig = z.output<typeof breakGlassUserSchema>;

/** Every role the user holds: the configured ones and those its groups map to, sorted. */
export function breakGlassRolesOf(user: BreakGlassUserConfig, roles: Config['roles']): string[] {
  return [...new Set([...user.roles, ...rolesFor(user.groups, roles)])].sort();
}

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
