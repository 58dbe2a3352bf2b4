// Stops a browser bouncing between gateway and IdP forever (a cookie that never sticks, a clock far
// off, an app that rejects the identity it was given...). Counted in a small cookie of its own, so
// it works even when the session cookie is the thing that fails.

export const LOOP_WINDOW_MS = 60_000;
export const MAX_LOGIN_ROUNDS = 5;

export interface LoopVerdict {
  looping: boolean;
  /** The cookie value to set for the next round. */
  nextValue: string;
}

/** value: '<count>.<window start, epoch seconds>' or absent. */
export function countLoginRound(value: string | undefined, now: number): LoopVerdict {
  const match = value === undefined ? null : /^(\d{1,3})\.(\d{1,12})$/.exec(value);
  const count = match === null ? 0 : Number(match[1]);
  const windowStart = match === null ? 0 : Number(match[2]) * 1000;
  const inWindow = now - windowStart < LOOP_WINDOW_MS && windowStart <= now;
  if (!inWindow) return { looping: false, nextValue: `1.${Math.floor(now / 1000)}` };
  return { looping: count >= MAX_LOGIN_ROUNDS, nextValue: `${count + 1}.${Math.floor(windowStart / 1000)}` };
}
