// Break-glass (breakGlass:): the exempt users who may sign in with local credentials at
// {prefix}/login/native when every IdP is down, and the brute-force limits on that form.
import { z } from 'zod';
import { canonicalUsername } from '../core/break-glass-identity.js';
import { wellFormedEmail } from '../core/email.js';
import { groupName } from './group-sync-schema.js';
import { durationBetween } from './schema-parts.js';

/** {prefix}/login/native is the break-glass form, so no provider may be called 'native'. */
export const NATIVE_LOGIN_SEGMENT = 'native';

/** OWASP's floor for argon2id (m=19 MiB, t=2, p=1); below it a stolen hash is cheap to attack. */
export const MIN_MEMORY_KIB = 19_456;
export const MIN_TIME_COST = 2;

/** A PHC string as `portcullis hash-password` prints it. The message never echoes the value. */
export const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

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
  /** Sent to apps as the user's email: one well-formed address, its domain lowercased (core/email.ts). */
  email: z
    .string()
    .max(256)
    .refine((text) => wellFormedEmail(text) !== null, 'must be one address such as root@example.com')
    .transform((text) => wellFormedEmail(text) ?? text)
    .optional(),
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
