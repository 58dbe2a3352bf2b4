// The suite every ReplayCache adapter must pass (src/session/replay-cache.ts: memory, Redis): a
// message ID is accepted once within its lifetime, by one caller even when many race, and again
// only after the lifetime (at least one second) has passed. See contract-time.ts for time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ReplayCache } from '../../src/session/replay-cache.js';
import type { ContractTime } from './contract-time.js';

export interface OpenedReplayCache {
  cache: ReplayCache;
  time: ContractTime;
  /** How long past its expected moment a change may take to be seen before the suite gives up. */
  patienceMs: number;
  close(): Promise<void>;
}

/** The least lifetime a claim gets, whatever the caller asks for (replay-cache.ts). */
const MIN_TTL_MS = 1_000;

export function replayCacheContract(name: string, open: () => Promise<OpenedReplayCache>): void {
  describe(`ReplayCache contract: ${name}`, () => {
    let opened: OpenedReplayCache;
    let cache: ReplayCache;

    beforeEach(async () => {
      opened = await open();
      cache = opened.cache;
    });
    afterEach(() => opened.close());

    const newId = () => `_${randomUUID()}`;
    const now = () => opened.time.clock.now();
    /** Polls until `id` can be claimed again (a refused claim changes nothing); resolves with when. */
    const reclaimedAt = (id: string, ttlMs: number, expected: number) =>
      opened.time.pollUntil(
        `${id} to be claimable again`,
        () => cache.claimOnce(id, ttlMs),
        expected + opened.patienceMs,
      );

    test('the first claim of an ID wins; every later one within its lifetime loses', async () => {
      const id = newId();
      assert.equal(await cache.claimOnce(id, 60_000), true);
      assert.equal(await cache.claimOnce(id, 60_000), false);
      assert.equal(await cache.claimOnce(id, 1), false, 'a shorter lifetime asked later changes nothing');
    });

    test('IDs are independent, whatever characters they hold', async () => {
      const base = newId();
      const ids = [base, `${base}:x`, `${base}*`, `${base} x`, `${base}é`, base.toUpperCase()];
      for (const id of ids) assert.equal(await cache.claimOnce(id, 60_000), true, id);
      for (const id of ids) assert.equal(await cache.claimOnce(id, 60_000), false, id);
    });

    test('of many claims racing for one ID, exactly one wins', async () => {
      const id = newId();
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.claimOnce(id, 60_000)));
      assert.equal(answers.filter(Boolean).length, 1);
    });

    test('a claim lasts its lifetime, then the ID may be claimed again', async () => {
      const id = newId();
      const ttlMs = 1_500;
      const claimedFrom = now();
      assert.equal(await cache.claimOnce(id, ttlMs), true);
      const again = await reclaimedAt(id, ttlMs, claimedFrom + ttlMs);
      assert.ok(again >= claimedFrom + ttlMs, `claimable again after ${again - claimedFrom} ms`);
      assert.equal(await cache.claimOnce(id, ttlMs), false, 'the new claim holds in turn');
    });

    test('a lifetime under one second is raised to one second', async () => {
      const id = newId();
      const claimedFrom = now();
      assert.equal(await cache.claimOnce(id, 10), true);
      const again = await reclaimedAt(id, 10, claimedFrom + MIN_TTL_MS);
      assert.ok(again >= claimedFrom + MIN_TTL_MS, `claimable again after ${again - claimedFrom} ms`);
    });
  });
}
