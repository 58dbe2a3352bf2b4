// The directory over Kysely: one set of queries for SQLite and PostgreSQL. Only portable SQL is used
// (INSERT … ON CONFLICT, RETURNING, CASE), so both dialects behave the same and one contract suite
// covers both.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Membership, MembershipSource } from '../core/groups.js';
import type { AuditRecord, Directory, ExternalUserInput, UserRecord } from './directory.js';
import type { Database, UsersTable } from './schema.js';

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

/** Stronger sources win when a group is added twice: an admin's decision outlives the defaults and sync. */
const SOURCE_STRENGTH: Readonly<Record<MembershipSource, number>> = { sync: 1, default: 2, manual: 3 };

// Inside INSERT … ON CONFLICT … DO UPDATE (same spelling in both dialects): the row being inserted and
// the row already there. The stronger source is kept.
const incoming = sql.ref('excluded.source');
const existing = sql.ref('memberships.source');
const incomingIsStronger = sql<boolean>`${strengthOf(incoming)} > ${strengthOf(existing)}`;
const strongerSource = sql<MembershipSource>`
  case when ${incomingIsStronger} then ${incoming} else ${existing} end`;

export function createKyselyDirectory(db: Kysely<Database>): Directory {
  return {
    async upsertExternalUser(input: ExternalUserInput, now: number) {
      // One statement, so concurrent first logins (two tabs, two replicas) cannot create two users:
      // the loser of the race updates the row the winner inserted.
      const row = await db
        .insertInto('users')
        .values({
          id: randomUUID(),
          type: 'external',
          provider_id: input.providerId,
          external_id: input.externalId,
          username: input.username,
          email: input.email,
          full_name: input.fullName,
          created_at: now,
          last_login_at: now,
        })
        .onConflict((conflict) =>
          // `active` is left alone: a user an admin or SCIM deactivated stays deactivated after logging in.
          conflict.columns(['provider_id', 'external_id']).doUpdateSet({
            username: input.username,
            email: input.email,
            full_name: input.fullName,
            last_login_at: now,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return toUserRecord(row);
    },

    async findUserById(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toUserRecord(row);
    },

    async findExternalUser(providerId, externalId) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('provider_id', '=', providerId)
        .where('external_id', '=', externalId)
        .executeTakeFirst();
      return row === undefined ? undefined : toUserRecord(row);
    },

    async listUsers(options = {}) {
      const rows = await db
        .selectFrom('users')
        .selectAll()
        // Creation order: pages stay stable while new users sign up.
        .orderBy('created_at')
        .orderBy('id')
        .limit(listLimit(options.limit))
        .offset(Math.max(0, Math.trunc(options.offset ?? 0)))
        .execute();
      return rows.map(toUserRecord);
    },

    async memberships(userId) {
      const rows = await db
        .selectFrom('memberships')
        .select(['group_name', 'source'])
        .where('user_id', '=', userId)
        .orderBy('group_name')
        .execute();
      return rows.map((row) => ({ group: row.group_name, source: row.source }));
    },

    async changeMemberships(userId, change) {
      const additions = strongestPerGroup(change.add);
      if (change.remove.length === 0 && additions.length === 0) return;
      // Removals first, then additions, in one transaction: a failure leaves the memberships as they were.
      await db.transaction().execute(async (trx) => {
        if (change.remove.length > 0) {
          await trx
            .deleteFrom('memberships')
            .where('user_id', '=', userId)
            .where('group_name', 'in', [...change.remove])
            .execute();
        }
        if (additions.length === 0) return;
        await trx
          .insertInto('memberships')
          .values(additions.map(({ group, source }) => ({ user_id: userId, group_name: group, source })))
          .onConflict((conflict) =>
            conflict.columns(['user_id', 'group_name']).doUpdateSet({
              // Decided in SQL, not read-then-write, so a concurrent change cannot downgrade a source.
              source: strongerSource,
            }),
          )
          .execute();
      });
    },

    async recordAudit(event) {
      await db
        .insertInto('audit_events')
        .values({
          at: event.at,
          event: event.event,
          outcome: event.outcome,
          actor: event.actor ?? null,
          provider_id: event.providerId ?? null,
          user_id: event.userId ?? null,
          client_ip: event.clientIp ?? null,
          reason: event.reason ?? null,
        })
        .execute();
    },

    async listAudit(options = {}) {
      let query = db
        .selectFrom('audit_events')
        .selectAll()
        // id breaks ties between events recorded in the same millisecond, newest insert first.
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(listLimit(options.limit));
      if (options.userId !== undefined) query = query.where('user_id', '=', options.userId);
      if (options.event !== undefined) query = query.where('event', '=', options.event);
      const rows = await query.execute();
      return rows.map((row): AuditRecord => ({
        at: epochMs(row.at),
        event: row.event,
        outcome: row.outcome,
        actor: row.actor,
        providerId: row.provider_id,
        userId: row.user_id,
        clientIp: row.client_ip,
        reason: row.reason,
      }));
    },

    async ping() {
      await sql`select 1`.execute(db);
    },

    async close() {
      await db.destroy();
    },
  };
}

function toUserRecord(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    type: row.type,
    providerId: row.provider_id,
    externalId: row.external_id,
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    active: row.active === 1,
    createdAt: epochMs(row.created_at),
    lastLoginAt: row.last_login_at === null ? null : epochMs(row.last_login_at),
  };
}

/** bigint columns: node-postgres returns int8 as a string; epoch milliseconds fit a double exactly. */
function epochMs(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Default 100, at most 1000; a nonsensical limit (0, negative, NaN) falls back to the default. */
function listLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit < 1) return DEFAULT_LIST_LIMIT;
  return Math.min(Math.trunc(limit), MAX_LIST_LIMIT);
}

/**
 * One row per group, keeping the strongest source: PostgreSQL refuses an INSERT … ON CONFLICT that
 * touches the same row twice. An unknown source passes through for the database's CHECK to refuse.
 */
function strongestPerGroup(add: readonly Membership[]): Membership[] {
  const byGroup = new Map<string, Membership>();
  for (const membership of add) {
    const held = byGroup.get(membership.group);
    if (held === undefined || strength(membership.source) > strength(held.source)) {
      byGroup.set(membership.group, membership);
    }
  }
  return [...byGroup.values()];
}

function strength(source: MembershipSource): number {
  return SOURCE_STRENGTH[source];
}

/** SOURCE_STRENGTH as a SQL expression over a source column. */
function strengthOf(source: RawBuilder<unknown>): RawBuilder<number> {
  const cases = Object.entries(SOURCE_STRENGTH).map(
    ([name, rank]) => sql`when ${sql.lit(name)} then ${sql.lit(rank)}`,
  );
  return sql<number>`case ${source} ${sql.join(cases, sql` `)} else 0 end`;
}
