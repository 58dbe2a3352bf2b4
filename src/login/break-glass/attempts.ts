// Break-glass: local credentials for the exempt users, checked without any IdP. One attempt is
//   limits (per canonical username and per client IP, shared through Redis when sessions are;
//   rate-limits.ts)
//   → argon2id verification (against a dummy hash for unknown names: same answer, same cost;
//   password-hashing.ts)
//   → on success the caller's session, then the audit event; every outcome is audited and logged.
// Nothing here reaches anything remote but the session store's Redis (rate limits) and the
// directory (audit); an audit write that fails is logged and never blocks the door.
import type { Redis } from 'ioredis';
import type { BreakGlassConfig } from '../../config/break-glass-schema.js';
import { BREAK_GLASS_PROVIDER_ID } from '../../core/break-glass-identity.js';
import type { Clock } from '../../core/clock.js';
import { GatewayError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { RoleMap } from '../../core/roles.js';
import type { AuditOutcome, Directory } from '../../directory/directory.js';
import type { Logger } from '../../observability/logger.js';
import { auditActorOf, createUserLookup, localIdentityOf } from './local-identity.js';
import { createPasswordVerifier, VerifierBusy } from './password-hashing.js';
import { createAttemptLimits, type Reservation } from './rate-limits.js';

/** An audit write slower than this (a remote database in trouble) is abandoned and logged instead. */
const AUDIT_TIMEOUT_MS = 2_000;

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
  roles: RoleMap;
  /** The session store's Redis connection: limits are then shared by every replica. */
  redis: Redis | null;
  /** Redis key prefix (session.redis.keyPrefix). */
  keyPrefix: string;
  audit: Pick<Directory, 'recordAudit'>;
  clock: Clock;
  log: Logger;
}

export function createBreakGlass(deps: BreakGlassDeps): BreakGlass {
  const lookUp = createUserLookup(deps.config.users);
  const passwords = createPasswordVerifier(deps.config.users.map((user) => user.passwordHash));
  const limits = createAttemptLimits({
    rateLimit: deps.config.rateLimit,
    redis: deps.redis,
    keyPrefix: deps.keyPrefix,
  });

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
      const actor = auditActorOf(input.username);
      const { canonical, user } = lookUp(input.username);
      const clientIp = input.clientIp;

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
        matches = await passwords.matches(user?.passwordHash, input.password);
      } catch (err) {
        await record('error', {
          actor,
          clientIp,
          reason: err instanceof VerifierBusy ? 'busy' : 'verification-failed',
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

      const identity = localIdentityOf(canonical, user, deps.roles);
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
      return record('failure', { actor: auditActorOf(username), clientIp, reason });
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
