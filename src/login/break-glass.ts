// Break-glass: local credentials for the exempt users, checked without any IdP. One attempt is
//   limits (per canonical username and per client IP, shared through Redis when sessions are)
//   → argon2id verification (against a dummy hash for unknown names: same answer, same cost)
//   → on success the caller's session, then the audit event; every outcome is audited and logged.
// Nothing here reaches anything remote but the session store's Redis (rate limits) and the
// directory (audit); an audit write that fails is logged and never blocks the door.
import { createHash, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { hash, parseOptions, verify, type Options } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import {
  BREAK_GLASS_PROVIDER_ID,
  breakGlassRolesOf,
  canonicalUsername,
  type BreakGlassConfig,
  type BreakGlassUserConfig,
} from '../config/break-glass-schema.js';
import type { RolesConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { subjectOf, type Identity } from '../core/identity.js';
import type { AuditOutcome, Directory } from '../directory/directory.js';
import type { Logger } from '../observability/logger.js';

/**
 * What `portcullis hash-password` uses: argon2id, 64 MiB, 3 passes, 1 lane (RFC 9106's second
 * recommended option, above OWASP's floor). About 50-250 ms per verification depending on the CPU.
 * `algorithm: 2` is Algorithm.Argon2id: the package declares the enum `const`, which
 * isolatedModules code may not read.
 */
export const ARGON2ID_OPTIONS = {
  algorithm: 2,
  memoryCost: 65_536,
  timeCost: 3,
  parallelism: 1,
} as const satisfies Options;

/** Longer inputs are refused like a wrong password (and hash-password refuses to hash them). */
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_USERNAME_LENGTH = 256;

/** Verifications at once: argon2 runs on libuv's thread pool (4 threads), which DNS lookups and file I/O share. */
const MAX_CONCURRENT_VERIFICATIONS = 2;
/** Attempts waiting for a verification slot beyond this are answered 503 at once. */
const MAX_WAITING_VERIFICATIONS = 64;
/** An audit write slower than this (a remote database in trouble) is abandoned and logged instead. */
const AUDIT_TIMEOUT_MS = 2_000;
/** Lockouts of one key are counted over a day: each one doubles the next. */
const LOCKOUT_MEMORY_SECONDS = 86_400;

export const AUDIT_EVENT = 'break-glass-login';

export type RefusalReason = 'unknown-user' | 'wrong-password' | 'rate-limited' | 'csrf-rejected';

export type AttemptOutcome =
  | { kind: 'success'; identity: Identity }
  /** Unknown name or wrong password: the caller must answer both identically. */
  | { kind: 'refused' }
  | { kind: 'rate-limited'; retryAfterMs: number };

export interface AttemptInput {
  /** As typed. */
  username: string;
  password: string;
  /** From the trusted proxy chain (http/client-address.ts). */
  clientIp: string;
}

export interface BreakGlass {
  /**
   * Checks one attempt. On success `establish` (the caller's new session) runs before the success is
   * audited, so a session store failure is audited as an error, not as a sign-in.
   */
  attempt(input: AttemptInput, establish: (identity: Identity) => Promise<void>): Promise<AttemptOutcome>;
  /** Audits and logs a form post refused before its credentials were looked at (CSRF). */
  recordRefusedForm(input: { username: string; clientIp: string; reason: RefusalReason }): Promise<void>;
}

export class BreakGlassUnavailable extends GatewayError {
  readonly code = 'PC_BREAK_GLASS_UNAVAILABLE';
  readonly status = 503;
  readonly publicMessage = 'Local sign-in cannot be checked right now. Try again in a moment.';
}

export interface BreakGlassDeps {
  config: BreakGlassConfig;
  roles: RolesConfig;
  /** The session store's Redis connection: limits are then shared by every replica. */
  redis: Redis | null;
  /** Redis key prefix (session.redis.keyPrefix). */
  keyPrefix: string;
  audit: Pick<Directory, 'recordAudit'>;
  clock: Clock;
  log: Logger;
}

export function createBreakGlass(deps: BreakGlassDeps): BreakGlass {
  const users = new Map<string, BreakGlassUserConfig>(
    deps.config.users.map((user) => [canonicalUsername(user.username), user]),
  );
  // Made once, in the background, with the configured hashes' parameters, so an unknown name costs
  // what a known one does. Its password is random and thrown away: nothing ever matches it.
  const dummyHash = hash(
    randomBytes(32).toString('base64url'),
    dummyHashOptionsFor(deps.config.users.map((user) => user.passwordHash)),
  );
  dummyHash.catch(() => {}); // reported at the first attempt that awaits it
  const limits = createLimits(deps);
  const verifications = createSlots(MAX_CONCURRENT_VERIFICATIONS, MAX_WAITING_VERIFICATIONS);

  async function record(
    outcome: AuditOutcome,
    fields: { actor: string; clientIp: string; reason: string | null },
  ): Promise<void> {
    const event = {
      at: deps.clock.now(),
      event: AUDIT_EVENT,
      outcome,
      actor: fields.actor,
      providerId: BREAK_GLASS_PROVIDER_ID,
      userId: null,
      clientIp: fields.clientIp,
      reason: fields.reason,
    };
    const logFields = {
      event: AUDIT_EVENT,
      outcome,
      actor: fields.actor,
      clientIp: fields.clientIp,
      reason: fields.reason,
    };
    if (outcome === 'success') deps.log.warn(logFields, 'break-glass sign-in: a local session was created');
    else if (outcome === 'failure') deps.log.warn(logFields, 'break-glass sign-in refused');
    else deps.log.error(logFields, 'break-glass sign-in failed');
    try {
      await withTimeout(deps.audit.recordAudit(event), AUDIT_TIMEOUT_MS);
    } catch (err) {
      deps.log.error({ ...logFields, err }, 'break-glass audit event not stored (it is in this log line)');
    }
  }

  return {
    async attempt(input, establish) {
      const actor = actorOf(input.username);
      const canonical = canonicalUsername(input.username.slice(0, MAX_USERNAME_LENGTH * 4));
      const clientIp = input.clientIp;
      const user = input.username.length <= MAX_USERNAME_LENGTH ? users.get(canonical) : undefined;

      let reserved: Reservation;
      try {
        const result = await limits.reserve(canonical, clientIp);
        if (result.kind === 'limited') {
          await record('failure', { actor, clientIp, reason: 'rate-limited' });
          return { kind: 'rate-limited', retryAfterMs: result.retryAfterMs };
        }
        reserved = result;
      } catch (err) {
        await record('error', { actor, clientIp, reason: 'limiter-unavailable' });
        throw new BreakGlassUnavailable('break-glass rate limiter unavailable', { cause: err });
      }

      let matches: boolean;
      try {
        matches = await verifications.run(async () => {
          // The same work whatever the name: one argon2id verification with the same parameters.
          const password = input.password.length <= MAX_PASSWORD_LENGTH ? input.password : '';
          const ok = await verify(user?.passwordHash ?? (await dummyHash), password);
          return ok && user !== undefined && input.password.length <= MAX_PASSWORD_LENGTH;
        });
      } catch (err) {
        await record('error', {
          actor,
          clientIp,
          reason: err instanceof SlotsFull ? 'busy' : 'verification-failed',
        });
        throw new BreakGlassUnavailable('break-glass verification failed', { cause: err });
      }

      if (!matches || user === undefined) {
        await limits
          .failed(reserved)
          .catch((err: unknown) => deps.log.error({ err }, 'break-glass lockout not stored'));
        await record('failure', {
          actor,
          clientIp,
          reason: user === undefined ? 'unknown-user' : 'wrong-password',
        });
        return { kind: 'refused' };
      }

      const identity = identityOf(canonical, user, deps.roles);
      try {
        await establish(identity);
      } catch (err) {
        await record('error', { actor, clientIp, reason: 'session-not-created' });
        throw err;
      }
      await limits
        .succeeded(reserved)
        .catch((err: unknown) => deps.log.error({ err }, 'break-glass limits not reset'));
      await record('success', { actor, clientIp, reason: null });
      return { kind: 'success', identity };
    },

    recordRefusedForm({ username, clientIp, reason }) {
      return record('failure', { actor: actorOf(username), clientIp, reason });
    },
  };
}

function identityOf(canonical: string, user: BreakGlassUserConfig, roles: RolesConfig): Identity {
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
function actorOf(username: string): string {
  return username
    .trim()
    .slice(0, MAX_USERNAME_LENGTH)
    .replace(/[\u0000-\u001f\u007f]/g, '?');
}

/**
 * The dummy hash takes the parameters of the first configured hash (the cost an attacker would
 * compare against), or hash-password's when no user is configured.
 */
export function dummyHashOptionsFor(hashes: readonly string[]): Options {
  const first = hashes[0];
  if (first === undefined) return { ...ARGON2ID_OPTIONS };
  const parsed = parseOptions(first);
  return {
    algorithm: parsed.algorithm,
    version: parsed.version,
    memoryCost: parsed.memoryCost,
    timeCost: parsed.timeCost,
    parallelism: parsed.parallelism,
    outputLen: parsed.outputLen,
  };
}

/** What `portcullis hash-password` prints for a password. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID_OPTIONS);
}

// ---------------------------------------------------------------------------------------------
// Rate limits with back-off

interface Reservation {
  kind: 'reserved';
  userKey: string;
  ipKey: string;
  userFailures: number;
  ipFailures: number;
}

interface Limits {
  /** Counts the attempt against both keys before the password is checked, so parallel attempts cannot slip past. */
  reserve(
    canonical: string,
    clientIp: string,
  ): Promise<Reservation | { kind: 'limited'; retryAfterMs: number }>;
  /** The attempt failed: a key that has used up its attempts is locked out, longer each time. */
  failed(reserved: Reservation): Promise<void>;
  /** The user is in: its counters start over and the IP gets its attempt back. */
  succeeded(reserved: Reservation): Promise<void>;
}

function createLimits(deps: BreakGlassDeps): Limits {
  const { rateLimit } = deps.config;
  const windowSeconds = Math.ceil(rateLimit.window / 1000);
  const make = (name: string, points: number, durationSeconds: number): RateLimiterAbstract =>
    deps.redis === null
      ? new RateLimiterMemory({ keyPrefix: `break-glass:${name}`, points, duration: durationSeconds })
      : new RateLimiterRedis({
          storeClient: deps.redis,
          keyPrefix: `${deps.keyPrefix}break-glass:${name}`,
          points,
          duration: durationSeconds,
          // The session connection queues commands while Redis is away (enableOfflineQueue); a
          // limit check must fail at once instead, and the attempt is refused with a 503.
          rejectIfRedisNotReady: true,
        });
  const byUser = make('user', rateLimit.maxFailuresPerUser, windowSeconds);
  const byIp = make('ip', rateLimit.maxFailuresPerIp, windowSeconds);
  const lockouts = make('lockouts', Number.MAX_SAFE_INTEGER, LOCKOUT_MEMORY_SECONDS);

  async function consume(
    limiter: RateLimiterAbstract,
    key: string,
  ): Promise<RateLimiterRes | { limitedMs: number }> {
    try {
      return await limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { limitedMs: Math.max(rejection.msBeforeNext, 1_000) };
      throw rejection;
    }
  }

  async function lockOut(limiter: RateLimiterAbstract, lockoutKey: string, key: string): Promise<void> {
    const count = (await lockouts.penalty(lockoutKey, 1)).consumedPoints;
    const ms = Math.min(rateLimit.lockout * 2 ** Math.min(count - 1, 30), rateLimit.maxLockout);
    await limiter.block(key, Math.ceil(ms / 1000));
  }

  return {
    async reserve(canonical, clientIp) {
      const userKey = createHash('sha256').update(canonical).digest('base64url');
      const ipKey = clientKeyOfIp(clientIp);
      const ip = await consume(byIp, ipKey);
      if ('limitedMs' in ip) return { kind: 'limited', retryAfterMs: ip.limitedMs };
      const user = await consume(byUser, userKey);
      if ('limitedMs' in user) {
        await byIp.reward(ipKey, 1); // the user's lockout refused it, not the IP's
        return { kind: 'limited', retryAfterMs: user.limitedMs };
      }
      return {
        kind: 'reserved',
        userKey,
        ipKey,
        userFailures: user.consumedPoints,
        ipFailures: ip.consumedPoints,
      };
    },
    async failed(reserved) {
      if (reserved.userFailures >= rateLimit.maxFailuresPerUser) {
        await lockOut(byUser, `user:${reserved.userKey}`, reserved.userKey);
      }
      if (reserved.ipFailures >= rateLimit.maxFailuresPerIp) {
        await lockOut(byIp, `ip:${reserved.ipKey}`, reserved.ipKey);
      }
    },
    async succeeded(reserved) {
      await Promise.all([
        byUser.delete(reserved.userKey),
        lockouts.delete(`user:${reserved.userKey}`),
        byIp.reward(reserved.ipKey, 1),
      ]);
    },
  };
}

/**
 * The key one client's attempts are counted under: an IPv4 address (IPv4-mapped IPv6 unwrapped),
 * or the /64 an IPv6 address is in, since one host usually holds a whole /64.
 */
export function clientKeyOfIp(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return bare === '' ? 'unknown' : bare;
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

/** Eight lowercase hextets without leading zeros; an embedded IPv4 tail becomes two hextets. */
function expandIPv6(ip: string): string[] {
  let text = ip.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...zeros, ...tailParts].map((part) => parseInt(part, 16).toString(16));
}

// ---------------------------------------------------------------------------------------------
// Small helpers

class SlotsFull extends Error {}

/** At most `max` tasks at once, at most `maxWaiting` queued; beyond that, refuse at once. */
function createSlots(max: number, maxWaiting: number): { run<T>(task: () => Promise<T>): Promise<T> } {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    async run(task) {
      if (running >= max) {
        if (waiting.length >= maxWaiting) throw new SlotsFull('too many break-glass attempts in flight');
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else running++;
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next === undefined) running--;
        else next(); // the slot passes straight to the next waiter
      }
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
