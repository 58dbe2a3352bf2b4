// Memory held by N live sessions in the memory store, measured in a fresh Node process: compose the
// real MemorySessionStore, insert N realistic records through set() (the path a login takes), and
// report process.memoryUsage() before and after. Run with --expose-gc so the figures are settled.
// Usage: node --expose-gc --import tsx bench/session-rss.ts [count]   -> one JSON line on stdout
import { randomBytes } from 'node:crypto';
import type session from 'express-session';
import { MemorySessionStore } from '../src/session/stores/memory-store.js';
import type { Identity } from '../src/core/identity.js';

const count = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function settledMemory(): NodeJS.MemoryUsage {
  gc();
  gc();
  return process.memoryUsage();
}

// A JWT-sized id token: header.payload.signature of an RS256 token with a dozen claims (~900 chars).
function fakeIdToken(): string {
  const part = (bytes: number) => randomBytes(bytes).toString('base64url');
  return `${part(75)}.${part(420)}.${part(256)}`;
}

const now = Date.now();
const store = new MemorySessionStore({
  maxSessions: Math.max(count, 10),
  timeouts: { idleMs: 8 * 3600_000, absoluteMs: 24 * 3600_000 },
  clock: { now: () => Date.now() },
});

const before = settledMemory();
for (let i = 0; i < count; i += 1) {
  const username = `user${i}`;
  const identity: Identity = {
    subject: `local:${randomBytes(12).toString('hex')}`,
    providerId: 'local',
    userId: randomBytes(16).toString('hex'),
    username,
    email: `${username}@example.com`,
    name: `User Number ${i}`,
    groups: ['all-users', 'eng', `team-${i % 50}`],
    roles: [],
  };
  const record = {
    cookie: {
      originalMaxAge: 8 * 3600_000,
      expires: new Date(now + 8 * 3600_000).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    identity,
    authenticatedAt: now,
    idToken: fakeIdToken(),
    csrfToken: randomBytes(32).toString('base64url'),
    pendingLogins: [],
  } as unknown as session.SessionData;
  store.set(randomBytes(24).toString('base64url'), record);
}
const after = settledMemory();
store.close();
process.stdout.write(
  `${JSON.stringify({
    sessions: store.size,
    rssBefore: before.rss,
    rssAfter: after.rss,
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
  })}\n`,
);
