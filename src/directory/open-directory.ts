// Opens the configured directory database and brings its schema up to date before anything uses it.
// PostgreSQL when storage.postgres is set (several replicas share it), else an embedded SQLite file.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { StorageConfig } from '../config/schema.js';
import type { Directory } from './directory.js';
import { createKyselyDirectory } from './kysely-directory.js';
import { directoryMigrations } from './migrations/index.js';
import type { Database } from './schema.js';

/** The directory is only used at login and by admin/SCIM calls: a few connections per replica suffice. */
const POSTGRES_POOL_MAX = 5;
/** Fail a start or a /readyz probe within seconds when the server is unreachable, instead of hanging. */
const POSTGRES_CONNECT_TIMEOUT_MS = 5_000;
/** Another process on the same file may hold the write lock for a moment: wait for it rather than fail. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export function sqlitePathOf(config: StorageConfig): string {
  return config.sqlite?.path ?? join(config.dataDir, 'portcullis.db');
}

export async function openDirectory(config: StorageConfig): Promise<Directory> {
  const db = config.postgres
    ? await openPostgres(config.postgres.url)
    : await openSqlite(sqlitePathOf(config));
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createKyselyDirectory(db);
}

// Each driver is loaded only when configured: a native module and its code cost memory in every replica.
async function openPostgres(url: string): Promise<Kysely<Database>> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: POSTGRES_POOL_MAX,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
  });
  // An idle connection dropped by the server (restart, failover) is reported here. Without a listener
  // the process would crash; the pool has already discarded the client, and the next query reconnects
  // or fails where a caller can report it.
  pool.on('error', () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function openSqlite(path: string): Promise<Kysely<Database>> {
  const { default: SqliteDatabase } = await import('better-sqlite3');
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  // WAL: readers never wait for the writer, and a crash mid-write cannot corrupt the file.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  // SQLite ignores REFERENCES unless asked, per connection. better-sqlite3's build turns it on already;
  // saying so here keeps the membership cascade and checks if that build default ever changes.
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

/**
 * Runs every pending migration; refuses to continue on any failure, since serving on a half-migrated
 * or unknown schema would fail later at a login. Concurrent starts are safe: Kysely takes a lock
 * (an advisory lock on PostgreSQL, the write lock on SQLite) and each migration runs in a transaction.
 */
async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: directoryMigrations,
    // Our own names, so a database shared with another Kysely application keeps the two histories apart.
    migrationTableName: 'portcullis_migration',
    migrationLockTableName: 'portcullis_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName;
  const what =
    failed === undefined
      ? 'the directory database could not be migrated'
      : `directory migration ${failed} failed`;
  const reason = error instanceof Error ? error.message : inspect(error);
  throw new Error(`${what}: ${reason}`, { cause: error });
}
