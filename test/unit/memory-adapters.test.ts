// The in-process adapters against their contract suites: the memory session backend (through
// create-backend.ts, with the hot-path reader and lookup), the memory replay cache and the memory
// session index. A fake clock: no sockets, no waiting. test/integration/redis-adapters.test.ts
// runs the same suites against a real Redis.
import { randomBytes } from 'node:crypto';
import { sessionSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { MemoryReplayCache } from '../../src/session/replay-cache.js';
import { MemorySessionIndex } from '../../src/session/session-index.js';
import { createSessionBackend } from '../../src/session/stores/create-backend.js';
import { fakeTime } from '../contract/contract-time.js';
import { replayCacheContract } from '../contract/replay-cache.contract.js';
import { sessionBackendContract } from '../contract/session-backend.contract.js';
import { sessionIndexContract } from '../contract/session-index.contract.js';

const MINUTE = 60_000;
/** Fake milliseconds: how far past an expected expiry the suites poll before giving up. */
const PATIENCE_MS = 10_000;

sessionBackendContract('memory', () => {
  const time = fakeTime();
  const timeouts = { idleMs: MINUTE, absoluteMs: 24 * 60 * MINUTE };
  const config = sessionSchema.parse({ secret: randomBytes(32).toString('hex'), store: 'memory' });
  const backend = createSessionBackend(config, {
    timeouts,
    clock: time.clock,
    log: createLogger({ level: 'silent' }),
  });
  return Promise.resolve({
    backend,
    time,
    timeouts,
    ttlGranularityMs: 0,
    patienceMs: PATIENCE_MS,
    close: () => backend.close(),
  });
});

replayCacheContract('memory', () => {
  const time = fakeTime();
  const cache = new MemoryReplayCache({ clock: time.clock });
  return Promise.resolve({
    cache,
    time,
    patienceMs: PATIENCE_MS,
    close: () => {
      cache.close();
      return Promise.resolve();
    },
  });
});

sessionIndexContract('memory', () => {
  const time = fakeTime();
  const index = new MemorySessionIndex({ clock: time.clock });
  return Promise.resolve({
    index,
    time,
    patienceMs: PATIENCE_MS,
    close: () => {
      index.close();
      return Promise.resolve();
    },
  });
});
