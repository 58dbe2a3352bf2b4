// Users, memberships and the audit trail. A migration is frozen once released: it must describe the
// schema as it was then, so it builds on Kysely<unknown> rather than on today's table types.
import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

export const initialMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('provider_id', 'text')
      .addColumn('external_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('email', 'text')
      .addColumn('full_name', 'text')
      .addColumn('active', 'integer', (col) => col.notNull().defaultTo(1))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('last_login_at', 'bigint')
      .addCheckConstraint('users_type_known', sql`type in ('external', 'local')`)
      // An external user without both ids could never be found again by login, only by email.
      .addCheckConstraint(
        'users_external_has_ids',
        sql`type <> 'external' or (provider_id is not null and external_id is not null)`,
      )
      .addCheckConstraint('users_active_flag', sql`active in (0, 1)`)
      // The login upsert's conflict target. NULLs are distinct in both dialects, so local users
      // (no provider, no external id) never collide with each other.
      .addUniqueConstraint('users_provider_external_id', ['provider_id', 'external_id'])
      .execute();

    await db.schema
      .createTable('memberships')
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('group_name', 'text', (col) => col.notNull())
      .addColumn('source', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('memberships_pk', ['user_id', 'group_name'])
      .addCheckConstraint('memberships_source_known', sql`source in ('sync', 'manual', 'default')`)
      .execute();
    // "Who is in group X" (admin views, SCIM Groups) without a full scan.
    await db.schema.createIndex('memberships_group_name').on('memberships').column('group_name').execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('id', isPostgres(db) ? 'serial' : 'integer', (col) =>
        // SQLite: AUTOINCREMENT so an id is never reused after the newest row is deleted (retention).
        isPostgres(db) ? col.primaryKey() : col.primaryKey().autoIncrement(),
      )
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('event', 'text', (col) => col.notNull())
      .addColumn('outcome', 'text', (col) => col.notNull())
      .addColumn('actor', 'text')
      .addColumn('provider_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('client_ip', 'text')
      .addColumn('reason', 'text')
      .addCheckConstraint('audit_events_outcome_known', sql`outcome in ('success', 'failure', 'error')`)
      .execute();
    await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
    await db.schema
      .createIndex('audit_events_user_id_at')
      .on('audit_events')
      .columns(['user_id', 'at'])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('audit_events').execute();
    await db.schema.dropTable('memberships').execute();
    await db.schema.dropTable('users').execute();
  },
};

// The one place the dialects' DDL differs: an auto-numbered key is SERIAL in PostgreSQL and
// AUTOINCREMENT in SQLite.
function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
