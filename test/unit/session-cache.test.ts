// The in-process session cache's own rules: TTL, size bound, reads that raced an invalidation, and
// the off switch used while change announcements cannot be heard.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SessionCache } from '../../src/session/session-cache.js';
import type { StoredSessionRecord } from '../../src/session/session-data.js';
import { FakeClock } from '../support/fake-clock.js';

const T0 = Date.UTC(2026, 0, 1);
const record = (authenticatedAt: number): StoredSessionRecord => ({ authenticatedAt });

function cacheWith(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = new FakeClock(T0);
  const cache = new SessionCache({
    ttlMs: options.ttlMs ?? 5_000,
    maxEntries: options.maxEntries ?? 100,
    clock,
  });
  return { cache, clock };
}

describe('SessionCache', () => {
  test('an entry is served until its TTL, then no more', () => {
    const { cache, clock } = cacheWith({ ttlMs: 5_000 });
    cache.put('a', record(1), cache.generation());
    assert.equal(cache.get('a')?.authenticatedAt, 1);
    clock.advance(4_999);
    assert.equal(cache.get('a')?.authenticatedAt, 1);
    clock.advance(1);
    assert.equal(cache.get('a'), undefined);
  });

  test('invalidate drops the entry', () => {
    const { cache } = cacheWith();
    cache.put('a', record(1), cache.generation());
    cache.invalidate('a');
    assert.equal(cache.get('a'), undefined);
  });

  test('a read that started before an invalidation is not cached (it may hold the old record)', () => {
    const { cache } = cacheWith();
    const startedAt = cache.generation();
    cache.invalidate('a'); // the change lands while the read is in flight
    cache.put('a', record(1), startedAt);
    assert.equal(cache.get('a'), undefined);
    cache.put('a', record(2), cache.generation());
    assert.equal(cache.get('a')?.authenticatedAt, 2);
  });

  test('beyond maxEntries the oldest entry goes', () => {
    const { cache } = cacheWith({ maxEntries: 3 });
    for (const sid of ['a', 'b', 'c', 'd']) cache.put(sid, record(1), cache.generation());
    assert.equal(cache.size, 3);
    assert.equal(cache.get('a'), undefined);
    assert.notEqual(cache.get('d'), undefined);
  });

  test('switched off, it forgets everything and caches nothing until switched on', () => {
    const { cache } = cacheWith();
    cache.put('a', record(1), cache.generation());
    cache.setEnabled(false);
    assert.equal(cache.get('a'), undefined);
    cache.put('b', record(1), cache.generation());
    assert.equal(cache.get('b'), undefined);
    cache.setEnabled(true);
    cache.put('b', record(1), cache.generation());
    assert.equal(cache.get('b')?.authenticatedAt, 1);
  });

  test('a TTL of 0 caches nothing', () => {
    const { cache } = cacheWith({ ttlMs: 0 });
    cache.put('a', record(1), cache.generation());
    assert.equal(cache.get('a'), undefined);
  });
});
