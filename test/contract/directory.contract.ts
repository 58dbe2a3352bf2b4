// The suite every Directory adapter must pass (SQLite, PostgreSQL). Imported by one test file per adapter.
// `open` opens a handle on the same database each time it is called; the suite opens one for its tests
// and a second one to check that migrations run again harmlessly.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { MembershipSource } from '../../src/core/groups.js';
import type { AuditRecord, Directory, ExternalUserInput } from '../../src/directory/directory.js';

export interface OpenedDirectory {
  directory: Directory;
  close(): Promise<void>;
}

/** Tests share one database, so every test names its own users, providers and events. */
function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function externalUser(overrides: Partial<ExternalUserInput> = {}): ExternalUserInput {
  return {
    providerId: unique('idp'),
    externalId: unique('sub'),
    username: unique('user'),
    email: 'alice@example.com',
    fullName: 'Alice Example',
    ...overrides,
  };
}

export function directoryContract(name: string, open: () => Promise<OpenedDirectory>): void {
  describe(`Directory contract: ${name}`, () => {
    let opened: OpenedDirectory;
    let directory: Directory;

    before(async () => {
      opened = await open();
      directory = opened.directory;
    });
    after(() => opened.close());

    async function newUserId(): Promise<string> {
      return (await directory.upsertExternalUser(externalUser(), 1_000)).id;
    }

    describe('users', () => {
      test('the first login creates an external user with created and last-login times', async () => {
        const input = externalUser();
        const user = await directory.upsertExternalUser(input, 1_700_000_000_123);
        assert.match(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.deepEqual(user, {
          id: user.id,
          type: 'external',
          providerId: input.providerId,
          externalId: input.externalId,
          username: input.username,
          email: input.email,
          fullName: input.fullName,
          active: true,
          createdAt: 1_700_000_000_123,
          lastLoginAt: 1_700_000_000_123,
        });
        assert.deepEqual(await directory.findUserById(user.id), user);
        assert.deepEqual(await directory.findExternalUser(input.providerId, input.externalId), user);
      });

      test('times are read back as numbers, also beyond 32 bits', async () => {
        const user = await directory.upsertExternalUser(externalUser(), 4_102_444_800_000); // year 2100
        const found = await directory.findUserById(user.id);
        assert.ok(found);
        assert.equal(typeof found.createdAt, 'number');
        assert.equal(found.createdAt, 4_102_444_800_000);
        assert.equal(typeof found.lastLoginAt, 'number');
      });

      test('a later login updates the profile and last login, keeping id and creation time', async () => {
        const input = externalUser();
        const first = await directory.upsertExternalUser(input, 1_000);
        const second = await directory.upsertExternalUser(
          { ...input, username: 'alice2', email: 'alice@new.example', fullName: 'Alice Renamed' },
          2_000,
        );
        assert.equal(second.id, first.id);
        assert.equal(second.createdAt, 1_000);
        assert.equal(second.lastLoginAt, 2_000);
        assert.equal(second.username, 'alice2');
        assert.equal(second.email, 'alice@new.example');
        assert.equal(second.fullName, 'Alice Renamed');
        assert.deepEqual(await directory.findUserById(first.id), second);
      });

      test('email and name may be cleared by a later login', async () => {
        const input = externalUser();
        await directory.upsertExternalUser(input, 1_000);
        const updated = await directory.upsertExternalUser({ ...input, email: null, fullName: null }, 2_000);
        assert.equal(updated.email, null);
        assert.equal(updated.fullName, null);
      });

      test('two providers, same subject and email: two users (matched by external id)', async () => {
        const externalId = unique('sub');
        const a = await directory.upsertExternalUser(
          externalUser({ externalId, email: 'same@example.com' }),
          1,
        );
        const b = await directory.upsertExternalUser(
          externalUser({ externalId, email: 'same@example.com' }),
          2,
        );
        assert.notEqual(a.id, b.id);
        assert.equal((await directory.findExternalUser(a.providerId ?? '', externalId))?.id, a.id);
        assert.equal((await directory.findExternalUser(b.providerId ?? '', externalId))?.id, b.id);
      });

      test('one provider, two subjects, same email: two users (never matched by email)', async () => {
        const providerId = unique('idp');
        const a = await directory.upsertExternalUser(
          externalUser({ providerId, email: 'same@example.com' }),
          1,
        );
        const b = await directory.upsertExternalUser(
          externalUser({ providerId, email: 'same@example.com' }),
          2,
        );
        assert.notEqual(a.id, b.id);
      });

      test('concurrent first logins of one user create one user', async () => {
        const input = externalUser();
        const results = await Promise.all(
          [1, 2, 3, 4, 5].map((n) => directory.upsertExternalUser({ ...input, username: `racer${n}` }, n)),
        );
        assert.equal(new Set(results.map((user) => user.id)).size, 1);
        const all = await directory.listUsers({ limit: 1000 });
        const matching = all.filter(
          (user) => user.providerId === input.providerId && user.externalId === input.externalId,
        );
        assert.equal(matching.length, 1);
      });

      test('unknown ids find nothing', async () => {
        assert.equal(await directory.findUserById(randomUUID()), undefined);
        assert.equal(await directory.findExternalUser(unique('idp'), unique('sub')), undefined);
      });

      test('listUsers pages in creation order without overlap', async () => {
        const base = 10_000_000_000_000; // after every other user in this suite
        const created = [];
        for (const offset of [1, 2, 3])
          created.push(await directory.upsertExternalUser(externalUser(), base + offset));
        const everyone = await directory.listUsers({ limit: 1000 });
        assert.deepEqual(
          everyone.slice(-3).map((user) => user.id),
          created.map((user) => user.id),
        );
        const firstPage = await directory.listUsers({ limit: 2, offset: 0 });
        const secondPage = await directory.listUsers({ limit: 2, offset: 2 });
        assert.equal(firstPage.length, 2);
        assert.deepEqual(
          [...firstPage, ...secondPage].map((user) => user.id),
          everyone.slice(0, 4).map((user) => user.id),
        );
      });
    });

    describe('memberships', () => {
      test('added memberships are read back with their source, sorted by group', async () => {
        const userId = await newUserId();
        await directory.changeMemberships(userId, {
          add: [
            { group: 'ops', source: 'sync' },
            { group: 'all-users', source: 'default' },
            { group: 'admins', source: 'manual' },
          ],
          remove: [],
        });
        assert.deepEqual(await directory.memberships(userId), [
          { group: 'admins', source: 'manual' },
          { group: 'all-users', source: 'default' },
          { group: 'ops', source: 'sync' },
        ]);
      });

      test('removal and addition in one change', async () => {
        const userId = await newUserId();
        await directory.changeMemberships(userId, {
          add: [
            { group: 'a', source: 'sync' },
            { group: 'b', source: 'sync' },
          ],
          remove: [],
        });
        await directory.changeMemberships(userId, {
          add: [{ group: 'c', source: 'sync' }],
          remove: ['a', 'missing'],
        });
        assert.deepEqual(await directory.memberships(userId), [
          { group: 'b', source: 'sync' },
          { group: 'c', source: 'sync' },
        ]);
      });

      test("one user's memberships are not another's", async () => {
        const alice = await newUserId();
        const bob = await newUserId();
        await directory.changeMemberships(alice, { add: [{ group: 'a', source: 'manual' }], remove: [] });
        await directory.changeMemberships(bob, { add: [{ group: 'a', source: 'sync' }], remove: [] });
        await directory.changeMemberships(bob, { add: [], remove: ['a'] });
        assert.deepEqual(await directory.memberships(alice), [{ group: 'a', source: 'manual' }]);
        assert.deepEqual(await directory.memberships(bob), []);
      });

      const strongerSourceCases: {
        held: MembershipSource;
        added: MembershipSource;
        kept: MembershipSource;
      }[] = [
        { held: 'manual', added: 'sync', kept: 'manual' },
        { held: 'manual', added: 'default', kept: 'manual' },
        { held: 'default', added: 'sync', kept: 'default' },
        { held: 'default', added: 'manual', kept: 'manual' },
        { held: 'sync', added: 'default', kept: 'default' },
        { held: 'sync', added: 'manual', kept: 'manual' },
        { held: 'sync', added: 'sync', kept: 'sync' },
      ];
      for (const { held, added, kept } of strongerSourceCases) {
        test(`adding a ${added} membership to a ${held} one keeps ${kept}`, async () => {
          const userId = await newUserId();
          await directory.changeMemberships(userId, { add: [{ group: 'g', source: held }], remove: [] });
          await directory.changeMemberships(userId, { add: [{ group: 'g', source: added }], remove: [] });
          assert.deepEqual(await directory.memberships(userId), [{ group: 'g', source: kept }]);
        });
      }

      test('one change adding a group twice keeps the stronger source', async () => {
        const userId = await newUserId();
        await directory.changeMemberships(userId, {
          add: [
            { group: 'g', source: 'sync' },
            { group: 'g', source: 'manual' },
            { group: 'g', source: 'default' },
          ],
          remove: [],
        });
        assert.deepEqual(await directory.memberships(userId), [{ group: 'g', source: 'manual' }]);
      });

      test('a failing change leaves nothing half-applied', async () => {
        const userId = await newUserId();
        await directory.changeMemberships(userId, { add: [{ group: 'kept', source: 'sync' }], remove: [] });
        // The removal runs first and succeeds; the insert then breaks the source constraint.
        await assert.rejects(
          directory.changeMemberships(userId, {
            add: [
              { group: 'new', source: 'sync' },
              { group: 'broken', source: 'bogus' as MembershipSource },
            ],
            remove: ['kept'],
          }),
        );
        assert.deepEqual(await directory.memberships(userId), [{ group: 'kept', source: 'sync' }]);
      });

      test('memberships for an unknown user are refused (foreign key), and nothing is stored', async () => {
        const ghost = randomUUID();
        await assert.rejects(
          directory.changeMemberships(ghost, { add: [{ group: 'g', source: 'manual' }], remove: [] }),
        );
        assert.deepEqual(await directory.memberships(ghost), []);
      });

      test('an empty change is a no-op', async () => {
        const userId = await newUserId();
        await directory.changeMemberships(userId, { add: [], remove: [] });
        assert.deepEqual(await directory.memberships(userId), []);
      });
    });

    describe('audit', () => {
      function event(overrides: Partial<AuditRecord> & { at: number }): AuditRecord {
        return { event: 'login', outcome: 'success', ...overrides };
      }

      test('events round-trip, newest first; absent fields read back as null', async () => {
        const userId = unique('user');
        const full: AuditRecord = {
          at: 3_000,
          event: 'login',
          outcome: 'failure',
          actor: 'alice',
          providerId: 'okta',
          userId,
          clientIp: '203.0.113.7',
          reason: 'wrong password',
        };
        await directory.recordAudit(event({ at: 1_000, userId }));
        await directory.recordAudit(full);
        await directory.recordAudit(event({ at: 2_000, userId, outcome: 'error' }));
        const listed = await directory.listAudit({ userId });
        assert.deepEqual(listed, [
          full,
          {
            at: 2_000,
            event: 'login',
            outcome: 'error',
            actor: null,
            providerId: null,
            userId,
            clientIp: null,
            reason: null,
          },
          {
            at: 1_000,
            event: 'login',
            outcome: 'success',
            actor: null,
            providerId: null,
            userId,
            clientIp: null,
            reason: null,
          },
        ]);
        assert.equal(typeof listed[0]?.at, 'number');
      });

      test('events in the same millisecond are listed newest insert first', async () => {
        const userId = unique('user');
        for (const reason of ['first', 'second', 'third']) {
          await directory.recordAudit(event({ at: 5_000, userId, reason }));
        }
        const listed = await directory.listAudit({ userId });
        assert.deepEqual(
          listed.map((record) => record.reason),
          ['third', 'second', 'first'],
        );
      });

      test('filters by user and by event, together or apart', async () => {
        const userId = unique('user');
        const other = unique('user');
        const logout = unique('logout');
        await directory.recordAudit(event({ at: 1, userId }));
        await directory.recordAudit(event({ at: 2, userId, event: logout }));
        await directory.recordAudit(event({ at: 3, userId: other, event: logout }));
        assert.deepEqual(
          (await directory.listAudit({ userId })).map((record) => record.at),
          [2, 1],
        );
        assert.deepEqual(
          (await directory.listAudit({ event: logout })).map((record) => record.at),
          [3, 2],
        );
        assert.deepEqual(
          (await directory.listAudit({ userId, event: logout })).map((record) => record.at),
          [2],
        );
      });

      test('limit returns the newest events', async () => {
        const userId = unique('user');
        for (const at of [1, 2, 3, 4]) await directory.recordAudit(event({ at, userId }));
        assert.deepEqual(
          (await directory.listAudit({ userId, limit: 2 })).map((record) => record.at),
          [4, 3],
        );
      });

      test('the limit defaults to 100 and is capped at 1000', async () => {
        const userId = unique('user');
        const ats = Array.from({ length: 1_001 }, (_, index) => index + 1);
        for (let start = 0; start < ats.length; start += 50) {
          await Promise.all(
            ats.slice(start, start + 50).map((at) => directory.recordAudit(event({ at, userId }))),
          );
        }
        assert.equal((await directory.listAudit({ userId })).length, 100);
        assert.equal((await directory.listAudit({ userId })).at(0)?.at, 1_001);
        assert.equal((await directory.listAudit({ userId, limit: 5_000 })).length, 1_000);
      });
    });

    test('ping resolves while the database answers', async () => {
      await directory.ping();
    });

    test('opening the same database again re-runs migrations harmlessly and sees the same data', async () => {
      const user = await directory.upsertExternalUser(externalUser(), 1_000);
      await directory.changeMemberships(user.id, { add: [{ group: 'kept', source: 'manual' }], remove: [] });
      const again = await open();
      try {
        assert.deepEqual(await again.directory.findUserById(user.id), user);
        assert.deepEqual(await again.directory.memberships(user.id), [{ group: 'kept', source: 'manual' }]);
      } finally {
        await again.close();
      }
    });
  });
}
