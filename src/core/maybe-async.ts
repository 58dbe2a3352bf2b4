// A value now, or later. The hot path stays synchronous when every step already has its answer
// (a session in the memory store or the session cache, an assertion in its cache): no promise and
// no microtask turn per request for the common case, the same code when a step must wait.
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)` now when the value is here, else once it arrives. */
export function andThen<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
