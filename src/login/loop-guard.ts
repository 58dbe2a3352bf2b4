// Stops a browser bouncing between gateway and IdP forever (a cookie that never sticks, a clock far
// off, an app that rejects the identity it was given...). Counted in a small cookie of its own, so
// it works even when the session cookie is the thing that fails. This file owns that cookie: reading
// and writing it. Its name (`<session cookie>-rounds`) is declared in session/cookie.ts beside the
// gateway's other cookie names, which the front door hides from apps (session/ cannot import login/).
// Nothing clears it: it expires a minute after it was last written, and a successful sign-in must not
// reset it (the loops it stops are made of successful sign-ins).
import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import { LoginLoopDetected } from '../core/errors.js';
import { loginRoundsCookieName, readCookie, type SessionCookieSettings } from '../session/cookie.js';

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

/** One sign-in start, counted: write it once the browser is really sent to the IdP. */
export interface LoginRound {
  readonly nextValue: string;
}

export interface LoopGuard {
  /** Counts a sign-in start from this browser; throws LoginLoopDetected when it is one too many. */
  countRound(req: IncomingMessage, providerId: string, now: number): LoginRound;
  /** Records the counted round in the browser. */
  writeRound(res: Response, round: LoginRound): void;
}

export function createLoopGuard(cookie: SessionCookieSettings): LoopGuard {
  const name = loginRoundsCookieName(cookie);
  return {
    countRound(req, providerId, now) {
      const verdict = countLoginRound(readCookie(req.headers.cookie, name), now);
      if (verdict.looping) throw new LoginLoopDetected(`login loop for provider ${providerId}`);
      return { nextValue: verdict.nextValue };
    },
    writeRound(res, round) {
      res.cookie(name, round.nextValue, {
        httpOnly: true,
        secure: cookie.secure,
        sameSite: 'lax',
        path: '/',
        maxAge: LOOP_WINDOW_MS,
        ...(cookie.domain === undefined ? {} : { domain: cookie.domain }),
      });
    },
  };
}
