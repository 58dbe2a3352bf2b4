// The hot path's view of the session store: read a record by id, and keep the idle window sliding.
import type { StoredSessionRecord } from './session-data.js';

export interface SessionReader {
  /** The stored record, or undefined when absent or expired. May answer synchronously (memory). */
  read(sid: string): Promise<StoredSessionRecord | undefined> | StoredSessionRecord | undefined;
  /** Slide the idle timeout. Fire and forget: a failed extension must not fail the request. */
  extend(sid: string, record: StoredSessionRecord): void;
}
