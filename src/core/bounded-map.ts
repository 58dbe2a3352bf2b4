// A Map that keeps at most `capacity` entries, dropping the oldest insertion first. The gateway's
// small caches (parsed Host headers, verified cookies, bearer identities, assertions, parsed
// sessions, group names) must never grow with what clients send, and a Map's insertion order is
// already the eviction order, so this is all they need.

export class BoundedMap<K, V> extends Map<K, V> {
  readonly #capacity: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  /** `onEvict` runs for entries pushed out by capacity, not for explicit deletes. */
  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`BoundedMap capacity must be a positive integer, got ${String(capacity)}`);
    super();
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  get capacity(): number {
    return this.#capacity;
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    while (this.size > this.#capacity) {
      const oldest = this.entries().next();
      if (oldest.done === true) break;
      const [oldKey, oldValue] = oldest.value;
      super.delete(oldKey);
      this.#onEvict?.(oldKey, oldValue);
    }
    return this;
  }

  /** Sets and moves the key to the newest position, so it is evicted last (least recently written). */
  setNewest(key: K, value: V): this {
    super.delete(key);
    return this.set(key, value);
  }
}
