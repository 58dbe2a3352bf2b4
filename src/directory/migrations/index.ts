// Every directory migration, in the order they run. Listed statically (not read from a folder) so the
// build output, a bundle or a container image cannot drop or reorder one.
import type { Migration, MigrationProvider } from 'kysely';
import { initialMigration } from './0001-initial.js';

/** Names are the migration's identity in the database: never rename or reorder a released one. */
const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-initial': initialMigration,
});

export const directoryMigrations: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
