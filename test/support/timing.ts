// Deadlines for tests that wait on other processes and servers. A test never bets on how fast the
// machine is: it waits for a sign of readiness (a port answering, a log line, a request arriving),
// and the deadline only bounds a wait that would otherwise hang. Deadlines grow with the machine's
// load (1-minute load average per CPU) and with PORTCULLIS_TEST_TIME_SCALE (a factor, default 1).
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** The factor every deadline is multiplied by: the environment's factor times the current load. */
export function timeScale(): number {
  const configured = Number(process.env['PORTCULLIS_TEST_TIME_SCALE'] ?? '1');
  const factor = Number.isFinite(configured) && configured > 0 ? configured : 1;
  const [oneMinute = 0] = loadavg();
  const load = Math.max(1, oneMinute / availableParallelism());
  return factor * load;
}

/** `ms` scaled for this machine right now. */
export function scaled(ms: number): number {
  return Math.round(ms * timeScale());
}

/** The budget for a process or server to become ready: a minute on an idle machine, more under load. */
export const STARTUP_MS = 60_000;

/** How long a stopped process gets between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 5_000;

export interface WaitOptions {
  /** What is awaited, for the error message: "redis-server to answer PING". */
  what: string;
  /** Unscaled budget; default STARTUP_MS. */
  timeoutMs?: number;
  intervalMs?: number;
  /** Called before each probe: a message when waiting is pointless (the process exited), else undefined. */
  failFast?: () => string | undefined;
  /** Extra detail for the timeout message (a process's output). */
  detail?: () => string;
}

/**
 * Probes until `probe` returns something other than undefined or false, and returns that. Fails
 * early when `failFast` says so, and after the scaled budget with a message naming what was awaited.
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const budget = scaled(options.timeoutMs ?? STARTUP_MS);
  const deadline = Date.now() + budget;
  const interval = options.intervalMs ?? 50;
  for (;;) {
    const reason = options.failFast?.();
    if (reason !== undefined) throw new Error(`waiting for ${options.what}: ${reason}`);
    const result = await probe();
    if (result !== undefined && result !== false) return result;
    if (Date.now() > deadline) {
      const detail = options.detail?.() ?? '';
      throw new Error(
        `gave up waiting for ${options.what} after ${budget} ms${detail === '' ? '' : `:\n${detail}`}`,
      );
    }
    await sleep(interval);
  }
}
