// A clock tests move by hand (src/core/clock.ts is the seam).
import type { Clock } from '../../src/core/clock.js';

export class FakeClock implements Clock {
  t: number;
  constructor(t: number) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
