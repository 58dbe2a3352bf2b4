import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedMap } from '../../src/core/bounded-map.js';

describe('BoundedMap', () => {
  it('drops the oldest insertion beyond its capacity and reports it', () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1).set('b', 2).set('c', 3);
    assert.deepEqual([...map.keys()], ['b', 'c']);
    assert.deepEqual(evicted, ['a']);
  });

  it('overwriting keeps the old position; setNewest moves the key to the end', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('a', 10).set('c', 3);
    assert.deepEqual(
      [...map.entries()],
      [
        ['b', 2],
        ['c', 3],
      ],
    );
    map.setNewest('b', 20).set('d', 4);
    assert.deepEqual(
      [...map.entries()],
      [
        ['b', 20],
        ['d', 4],
      ],
    );
  });

  it('explicit deletes do not call onEvict', () => {
    let calls = 0;
    const map = new BoundedMap<string, number>(1, () => (calls += 1));
    map.set('a', 1);
    map.delete('a');
    assert.equal(calls, 0);
  });

  it('refuses a capacity that is not a positive integer', () => {
    assert.throws(() => new BoundedMap(0), RangeError);
    assert.throws(() => new BoundedMap(1.5), RangeError);
  });
});
