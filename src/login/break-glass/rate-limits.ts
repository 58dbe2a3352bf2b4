// Break-glass brute-force limits: failures counted per canonical username and per client IP (an IPv6
// client per /64), a lockout once a key has used up its attempts, doubled for each lockout that day.
// Counters live in the session store's Redis when sessions do (every replica shares them), else in
// memory (rate-limiter-flexible either way).
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { BreakGlassConfig } from '../../config/schema.js';

/** Lockouts of one key are counted over a day: each one doubles the next. */
const LOCKOUT_MEMORY_SECONDS = 86_400;

/** One attempt, counted against both keys before its password was checked. */
export interface Reservation {
  kind: 'reserved';
  userKey: string;
  ipKey: string;
  userFailures: number;
  ipFailures: number;
}

export interface AttemptLimits {
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

export interface AttemptLimitsDeps {
  rateLimit: BreakGlassConfig['rateLimit'];
  /** The session store's Redis connection: limits are then shared by every replica. */
  redis: Redis | null;
  /** Redis key prefix (session.redis.keyPrefix). */
  keyPrefix: string;
}

export function createAttemptLimits(deps: AttemptLimitsDeps): AttemptLimits {
  const { rateLimit } = deps;
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
