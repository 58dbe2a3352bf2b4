// /readyz (the gateway's routes and the separate health listener) answers 503 when something the
// gateway cannot serve without is down. Saying which one saves the operator a guess: the session
// store (memory always answers; Redis may not) or the directory database.

export type ReadinessDependency = 'session store' | 'directory';

/** Why the gateway is not ready: the dependencies that did not answer, each with its error. */
export class NotReady extends Error {
  override readonly name = 'NotReady';
  /** Each dependency that failed, with its error (for the log line; the 503 body names only which). */
  readonly failures: ReadonlyMap<ReadinessDependency, unknown>;

  constructor(failures: ReadonlyMap<ReadinessDependency, unknown>) {
    super(`${[...failures.keys()].join(' and ')} unreachable`);
    this.failures = failures;
  }
}

/** Pings every dependency at once; rejects with NotReady naming each one that failed. */
export async function checkReadiness(
  probes: Readonly<Record<ReadinessDependency, () => Promise<void>>>,
): Promise<void> {
  const names = Object.keys(probes) as ReadinessDependency[];
  const results = await Promise.allSettled(names.map((name) => probes[name]()));
  const failures = new Map<ReadinessDependency, unknown>();
  results.forEach((result, i) => {
    const name = names[i];
    if (result.status === 'rejected' && name !== undefined) failures.set(name, result.reason);
  });
  if (failures.size > 0) throw new NotReady(failures);
}

/** The 503 body for a failed readiness check: what failed, never the error's text (it may name hosts). */
export function notReadyBody(err: unknown): { status: 'not ready'; reason: string } {
  return {
    status: 'not ready',
    reason: err instanceof NotReady ? err.message : 'session store or directory unreachable',
  };
}
