// The directory on an embedded SQLite file: the contract suite, plus where the file lands and how a
// failed migration is refused.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { openDirectory } from '../../src/directory/open-directory.js';
import { directoryContract } from '../contract/directory.contract.js';

const root = mkdtempSync(join(tmpdir(), 'portcullis-directory-'));
after(() => rmSync(root, { recursive: true, force: true }));

const contractDataDir = join(root, 'contract');
directoryContract('SQLite', async () => {
  const directory = await openDirectory({ dataDir: contractDataDir });
  return { directory, close: () => directory.close() };
});

describe('SQLite directory file', () => {
  test('defaults to {dataDir}/portcullis.db, creating the folder', async () => {
    const dataDir = join(root, 'default', 'nested');
    const directory = await openDirectory({ dataDir });
    await directory.close();
    assert.equal(existsSync(join(dataDir, 'portcullis.db')), true);
  });

  test('sqlite.path overrides the default location', async () => {
    const dataDir = join(root, 'data-unused');
    const path = join(root, 'elsewhere', 'directory.sqlite');
    const directory = await openDirectory({ dataDir, sqlite: { path } });
    await directory.close();
    assert.equal(existsSync(path), true);
    assert.equal(existsSync(join(dataDir, 'portcullis.db')), false);
  });

  test('uses WAL journaling and enforces foreign keys', async () => {
    const dataDir = join(root, 'pragmas');
    const directory = await openDirectory({ dataDir });
    await directory.close();
    const sqlite = new SqliteDatabase(join(dataDir, 'portcullis.db'));
    try {
      // journal_mode=WAL is stored in the file; foreign_keys is per connection, so check the schema's FK.
      assert.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal');
      const keys = sqlite.pragma('foreign_key_list(memberships)') as { table: string; on_delete: string }[];
      assert.deepEqual(
        keys.map((key) => [key.table, key.on_delete]),
        [['users', 'CASCADE']],
      );
    } finally {
      sqlite.close();
    }
  });

  test('a migration that fails is refused with its name', async () => {
    const path = join(root, 'clash', 'portcullis.db');
    await openDirectory({ dataDir: join(root, 'clash'), sqlite: { path } }).then((directory) =>
      directory.close(),
    );
    // Forget that 0001 ran, so it runs again against the tables it already made.
    const sqlite = new SqliteDatabase(path);
    sqlite.exec('delete from portcullis_migration');
    sqlite.close();
    await assert.rejects(openDirectory({ dataDir: root, sqlite: { path } }), {
      message: /^directory migration 0001-initial failed: .*users.* already exists/,
    });
  });

  test('a database migrated by a newer version (unknown migration) is refused', async () => {
    const path = join(root, 'newer', 'portcullis.db');
    await openDirectory({ dataDir: root, sqlite: { path } }).then((directory) => directory.close());
    const sqlite = new SqliteDatabase(path);
    sqlite.prepare('insert into portcullis_migration (name, timestamp) values (?, ?)').run('9999-future', '');
    sqlite.close();
    await assert.rejects(openDirectory({ dataDir: root, sqlite: { path } }), {
      message: /^the directory database could not be migrated: .*9999-future/,
    });
  });
});
