// The directory's tables as Kysely sees them. Column names are snake_case in SQL; kysely-directory.ts maps
// rows to the port's camelCase records, so nothing outside src/directory sees this file.
import type { ColumnType, Generated } from 'kysely';
import type { MembershipSource } from '../core/groups.js';
import type { AuditOutcome, UserType } from './directory.js';

/**
 * Epoch milliseconds in a bigint column. SQLite hands back a number, node-postgres a string (int8 can
 * exceed 2^53); the adapter converts on read. Written as a number.
 */
export type EpochMsColumn = ColumnType<number | string, number, number>;

/**
 * 0 or 1: SQLite has no boolean type and better-sqlite3 cannot bind true/false, so both
 * dialects store an integer.
 */
export type FlagColumn = ColumnType<number, number | undefined, number>;

export interface UsersTable {
  /** crypto.randomUUID(). */
  id: string;
  type: UserType;
  /** Null for local (break-glass) users. */
  provider_id: string | null;
  /** The IdP's stable subject; unique with provider_id. */
  external_id: string | null;
  username: string;
  email: string | null;
  full_name: string | null;
  active: FlagColumn;
  created_at: EpochMsColumn;
  last_login_at: ColumnType<number | string | null, number | null, number | null>;
}

export interface MembershipsTable {
  user_id: string;
  group_name: string;
  source: MembershipSource;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: EpochMsColumn;
  event: string;
  outcome: AuditOutcome;
  actor: string | null;
  provider_id: string | null;
  /** No foreign key: the trail outlives deleted users, and a refused login may name no user at all. */
  user_id: string | null;
  client_ip: string | null;
  reason: string | null;
}

export interface Database {
  users: UsersTable;
  memberships: MembershipsTable;
  audit_events: AuditEventsTable;
}
