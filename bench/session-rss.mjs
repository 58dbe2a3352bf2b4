// Memory held by N live sessions in a gateway with the memory store, measured in a fresh Node
// process: load the benchmark's memory-gateway config through the real loader, compose the whole
// gateway (every module a running gateway loads), listen, serve a few thousand proxied requests so
// the HTTP path is warm, then insert N realistic session records through the composed store's set()
// (the call a login ends with) and report process.memoryUsage() before and after, GC settled.
//
// It runs the compiled gateway (dist/, `npm run build`), without tsx, as a deployment would: tsx's
// loader alone adds tens of MB.
//
// Usage: node --expose-gc bench/session-rss.mjs <config.json> [count]   -> one JSON line on stdout
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeGateway } from '../dist/src/app/compose.js';
import { formatIssues, parseConfigText } from '../dist/src/config/load.js';
import { createLogger } from '../dist/src/observability/logger.js';

const [configFile, countArg] = process.argv.slice(2);
if (configFile === undefined) throw new Error('usage: session-rss.mjs <config.json> [count]');
const count = Number(countArg ?? 100_000);
const WARM_UP_REQUESTS = 3_000;
const gc = globalThis.gc ?? (() => {});

function settledMemory() {
  gc();
  gc();
  return process.memoryUsage();
}

// Random material from one buffer: per-record Buffers would leave malloc garbage that inflates RSS
// and has nothing to do with what the store holds.
const pool = randomBytes(1 << 20);
let poolOffset = 0;
function random(bytes, encoding) {
  if (poolOffset + bytes > pool.length) poolOffset = 0;
  const text = pool.toString(encoding, poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return text;
}

/** 32 characters like express-session's ids, one flat string (as uid-safe makes), unique by the counter. */
function sessionId(counter) {
  if (poolOffset + 24 > pool.length) poolOffset = 0;
  pool.writeUInt32BE(counter, poolOffset);
  const id = pool.toString('base64url', poolOffset, poolOffset + 24);
  poolOffset += 24;
  return id;
}

function get(port, path, agent) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

const raw = JSON.parse(readFileSync(configFile, 'utf8'));
const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-session-rss-'));
raw.storage = { ...raw.storage, dataDir };
raw.session = { ...raw.session, memory: { maxSessions: Math.max(count, 10) } };
const parsed = parseConfigText(JSON.stringify(raw), { env: {}, baseDir: process.cwd(), source: configFile });
if (!parsed.ok) throw new Error(formatIssues(parsed.error));
const config = parsed.value.config;
if (config.session.store !== 'memory') throw new Error('session-rss measures the memory store');

const gateway = await composeGateway(config, { log: createLogger({ level: 'warn' }) });
const server = createServer({ keepAliveTimeout: 65_000 });
gateway.attach(server);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const warmups = [];
for (let i = 0; i < WARM_UP_REQUESTS; i += 1) {
  warmups.push(get(port, `/public/warm-up-${i % 16}`, agent));
  if (warmups.length === 16) await Promise.all(warmups.splice(0));
}
await Promise.all(warmups);

const before = settledMemory();
const now = Date.now();
const store = gateway.sessionStore;
for (let i = 0; i < count; i += 1) {
  const username = `user${i}`;
  const identity = {
    subject: `local:${random(12, 'hex')}`,
    providerId: 'local',
    userId: random(16, 'hex'),
    username,
    email: `${username}@example.com`,
    name: `User Number ${i}`,
    groups: ['all-users', 'eng', `team-${i % 50}`],
    roles: [],
  };
  // What establishSession stores after an OIDC login: the id token itself is not in the record but
  // sealed in the logout-hint cookie (src/session/logout-hint-cookie.ts).
  const record = {
    cookie: {
      originalMaxAge: config.session.absoluteTimeout,
      expires: new Date(now + config.session.absoluteTimeout).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    identity,
    authenticatedAt: now,
    csrfToken: random(24, 'base64url'),
  };
  store.set(sessionId(i), record);
}
const after = settledMemory();
const sessions = await new Promise((resolve, reject) => {
  if (store.length === undefined) throw new Error('the store cannot count its sessions');
  store.length((err, length) => (err ? reject(err) : resolve(length ?? 0)));
});
agent.destroy();
server.closeAllConnections();
server.close();
await gateway.close();
rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    sessions,
    rssBefore: before.rss,
    rssAfter: after.rss,
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
  })}\n`,
);
process.exit(0);
