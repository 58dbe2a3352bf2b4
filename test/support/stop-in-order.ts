// For after() hooks: stop what a before() started, in order, each even if an earlier one fails. A
// before() that failed part-way left the rest unassigned, whatever their declared types say, so each
// may be undefined here.
export async function stopInOrder(
  ...running: Array<{ close(): Promise<unknown> } | undefined>
): Promise<void> {
  const failures: unknown[] = [];
  for (const resource of running) {
    try {
      await resource?.close();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'could not stop everything a test started');
}
