/**
 * Freezes an object graph (JSON-shaped data) all the way down, so readers that share it cannot
 * change it. A frozen object is taken as frozen all the way down already (shared schema defaults).
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
