// The directory on PostgreSQL (several replicas): the contract suite on a fresh database, plus what
// only a server shows: replicas migrating at once, and an unreachable server refused at start.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openDirectory } from '../../src/directory/open-directory.js';
import { directoryContract } from '../contract/directory.contract.js';
import { freePort } from '../support/free-port.js';
import { startTestPostgres } from '../support/postgres.js';

/** Unused with postgres set; storage.dataDir is required by the config type. */
const dataDir = '/nonexistent-portcullis-data';
const server = await startTestPostgres();

if ('skip' in server) {
  describe('Directory on PostgreSQL', { skip: server.skip }, () => {});
} else {
  after(() => server.close());
  const storage = { dataDir, postgres: { url: server.url } };

  // Registered first: it needs the database before anything has migrated it.
  describe('PostgreSQL directory start', () => {
    test('three replicas starting at once on a fresh database all come up', async () => {
      const replicas = await Promise.all([1, 2, 3].map(() => openDirectory(storage)));
      await Promise.all(replicas.map((directory) => directory.close()));
    });
  });

  directoryContract('PostgreSQL', async () => {
    const directory = await openDirectory(storage);
    return { directory, close: () => directory.close() };
  });

  describe('PostgreSQL directory refusals', () => {
    test('an unreachable server is refused at open with a clear error', async () => {
      const port = await freePort();
      await assert.rejects(
        openDirectory({ dataDir, postgres: { url: `postgres://postgres@127.0.0.1:${port}/x` } }),
        {
          message: /^the directory database could not be migrated: .*ECONNREFUSED/,
        },
      );
    });
  });
}
