// Time for contract suites that run against adapters with different clocks. Memory adapters read an
// injected clock, so a fake one jumps; Redis expires keys on its own wall clock, so the same suite
// waits there, by polling, never by a fixed sleep. Every assertion about time is written so that a
// slow machine can only make it wait longer, never fail it:
//   - "gone by T": wait until T (from an upper bound of when the write happened), then look once;
//   - "kept until T": poll until it is gone and check that this happened at T or later.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../src/core/clock.js';
import { FakeClock } from '../support/fake-clock.js';

export interface ContractTime {
  /** What the adapter reads (fake for memory, the wall clock for Redis). */
  readonly clock: Clock;
  /** True when time only moves when the suite moves it. */
  readonly isFake: boolean;
  /** Resolves once clock.now() >= at (a fake clock jumps there). */
  waitUntil(at: number): Promise<void>;
  /**
   * Polls `probe` until it answers true; resolves with the clock time of that answer. Gives up
   * (rejects, naming `what`) once the clock passes `deadline`.
   */
  pollUntil(what: string, probe: () => Promise<boolean> | boolean, deadline: number): Promise<number>;
}

/** A fake clock that polls in small steps, so "when did it happen" is measured to within `stepMs`. */
export function fakeTime(startMs = Date.UTC(2025, 0, 15, 9, 0, 0), stepMs = 100): ContractTime {
  const clock = new FakeClock(startMs);
  return {
    clock,
    isFake: true,
    waitUntil(at) {
      if (clock.now() < at) clock.t = at;
      return Promise.resolve();
    },
    async pollUntil(what, probe, deadline) {
      for (;;) {
        if (await probe()) return clock.now();
        if (clock.now() > deadline) throw new Error(`${what}: not by ${deadline - startMs} ms (fake clock)`);
        clock.advance(stepMs);
      }
    },
  };
}

/** The wall clock; polls every `intervalMs`. */
export function realTime(intervalMs = 20): ContractTime {
  const clock: Clock = { now: () => Date.now() };
  return {
    clock,
    isFake: false,
    async waitUntil(at) {
      while (Date.now() < at) await sleep(Math.min(intervalMs, Math.max(1, at - Date.now())));
    },
    async pollUntil(what, probe, deadline) {
      for (;;) {
        if (await probe()) return Date.now();
        if (Date.now() > deadline) throw new Error(`${what}: gave up at the deadline`);
        await sleep(intervalMs);
      }
    },
  };
}
