// The suite every SessionIndex adapter must pass (src/session/session-index.ts: memory, Redis):
// add, list, remove; entries expire with their TTL; a later add keeps the key alive for its own
// TTL. The index is a hint (readers look each session up), so what the adapters may differ in is
// left open: whether an older member outlives its TTL while a newer one keeps the key alive.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { SessionIndex } from '../../src/session/session-index.js';
import type { ContractTime } from './contract-time.js';

export interface OpenedSessionIndex {
  index: SessionIndex;
  time: ContractTime;
  /** How long past its expected moment a change may take to be seen before the suite gives up. */
  patienceMs: number;
  close(): Promise<void>;
}

const LONG_MS = 60 * 60_000;

export function sessionIndexContract(name: string, open: () => Promise<OpenedSessionIndex>): void {
  describe(`SessionIndex contract: ${name}`, () => {
    let opened: OpenedSessionIndex;
    let index: SessionIndex;

    beforeEach(async () => {
      opened = await open();
      index = opened.index;
    });
    afterEach(() => opened.close());

    /** Keys as the SAML logout builds them: provider id and a hash of the NameID. */
    const newKey = () => `saml:idp:${randomUUID()}`;
    const now = () => opened.time.clock.now();
    const listed = async (key: string) => (await index.sessionIds(key)).sort();
    /** Polls until `sessionId` is no longer listed under `key`; resolves with when. */
    const droppedAt = (key: string, sessionId: string, expected: number) =>
      opened.time.pollUntil(
        `${sessionId} to leave the index`,
        async () => !(await index.sessionIds(key)).includes(sessionId),
        expected + opened.patienceMs,
      );

    test('an unknown key lists no sessions', async () => {
      assert.deepEqual(await index.sessionIds(newKey()), []);
    });

    test('added sessions are listed under their key, once each, and under no other', async () => {
      const [key, other] = [newKey(), newKey()];
      await index.add(key, 'sid-b', LONG_MS);
      await index.add(key, 'sid-a', LONG_MS);
      await index.add(key, 'sid-a', LONG_MS);
      await index.add(other, 'sid-c', LONG_MS);
      assert.deepEqual(await listed(key), ['sid-a', 'sid-b']);
      assert.deepEqual(await listed(other), ['sid-c']);
      assert.deepEqual(await listed(`${key}-suffix`), []);
    });

    test('remove takes out one session; removing the last empties the key; unknown ones are harmless', async () => {
      const key = newKey();
      await index.add(key, 'sid-a', LONG_MS);
      await index.add(key, 'sid-b', LONG_MS);
      await index.remove(key, 'sid-a');
      assert.deepEqual(await listed(key), ['sid-b']);
      await index.remove(key, 'sid-unknown');
      await index.remove(newKey(), 'sid-b');
      assert.deepEqual(await listed(key), ['sid-b']);
      await index.remove(key, 'sid-b');
      assert.deepEqual(await listed(key), []);
      await index.add(key, 'sid-c', LONG_MS);
      assert.deepEqual(await listed(key), ['sid-c'], 'an emptied key can be used again');
    });

    test('an entry is listed for its TTL, then no more', async () => {
      const key = newKey();
      const ttlMs = 1_500;
      const addedFrom = now();
      await index.add(key, 'sid-a', ttlMs);
      assert.deepEqual(await listed(key), ['sid-a']);
      const dropped = await droppedAt(key, 'sid-a', addedFrom + ttlMs);
      assert.ok(dropped >= addedFrom + ttlMs, `dropped after ${dropped - addedFrom} ms`);
      assert.deepEqual(await listed(key), []);
    });

    test('a later add keeps the key for its own TTL', async () => {
      const key = newKey();
      const ttlMs = 1_500;
      const firstFrom = now();
      await index.add(key, 'sid-a', ttlMs);
      await opened.time.waitUntil(firstFrom + ttlMs / 2);
      const secondFrom = now();
      await index.add(key, 'sid-b', ttlMs);
      const dropped = await droppedAt(key, 'sid-b', secondFrom + ttlMs);
      assert.ok(dropped >= secondFrom + ttlMs, `dropped ${dropped - secondFrom} ms after the later add`);
    });
  });
}
