// The directory port: users, group memberships and audit events. Adapters: SQLite (embedded
// default) and PostgreSQL (several replicas), one Kysely query layer. The proxied hot path never
// calls it: everything per-user is computed at login and kept in the session.

import type { Membership } from '../core/groups.js';

export type UserType = 'external' | 'local';

export interface UserRecord {
  readonly id: string;
  readonly type: UserType;
  readonly providerId: string | null;
  readonly externalId: string | null;
  readonly username: string;
  readonly email: string | null;
  readonly fullName: string | null;
  readonly active: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly lastLoginAt: number | null;
}

export type AuditOutcome = 'success' | 'failure' | 'error';

export interface AuditRecord {
  /** Epoch ms. */
  readonly at: number;
  readonly event: string;
  /** success: done; failure: refused (wrong password, bad token); error: we broke. */
  readonly outcome: AuditOutcome;
  /** Who acted, as they named themselves (a username); never a password or token. */
  readonly actor?: string | null;
  readonly providerId?: string | null;
  readonly userId?: string | null;
  readonly clientIp?: string | null;
  readonly reason?: string | null;
}

export interface ExternalUserInput {
  providerId: string;
  externalId: string;
  username: string;
  email: string | null;
  fullName: string | null;
}

export interface Directory {
  /** First login creates the user (type external); later ones update username, email, full name and last login. Matched by (providerId, externalId) only, never by email. */
  upsertExternalUser(input: ExternalUserInput, now: number): Promise<UserRecord>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  findExternalUser(providerId: string, externalId: string): Promise<UserRecord | undefined>;
  listUsers(options?: { limit?: number; offset?: number }): Promise<UserRecord[]>;
  memberships(userId: string): Promise<Membership[]>;
  /** Adds (with their source) and removes memberships in one transaction. Adding an existing group keeps the stronger source (manual > default > sync). */
  changeMemberships(
    userId: string,
    change: { add: readonly Membership[]; remove: readonly string[] },
  ): Promise<void>;
  recordAudit(event: AuditRecord): Promise<void>;
  /** Newest first. */
  listAudit(options?: { limit?: number; userId?: string; event?: string }): Promise<AuditRecord[]>;
  /** /readyz: resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
