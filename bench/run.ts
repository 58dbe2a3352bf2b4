// `npm run bench`: the gateway's hot path under load, on loopback, in one run.
//
// Starts a bare Node upstream (own process), the local OIDC provider (in this process), a gateway
// with the memory store and one with the Redis store (own processes, compiled: `node dist/src/main.js`,
// configured through the real config loader), optionally a cluster-mode gateway (workers: auto,
// Redis) and a Redis gateway with its in-process session cache off; logs in once per gateway to get a
// session cookie; drives load with wrk when the binary is found (`wrk -t1 -c<N> --latency`, its own
// process, after a check run that counts every answer other than 200), with autocannon (in this
// process) otherwise; prints one Markdown table and writes the figures as JSON to
// bench/results/<UTC stamp>.json.
//
// The Redis flatness rows (issue 7: "Redis store hot-path cost flat from 1 k to 1 M sessions") drive
// the cache-off gateway with the bench's own logged-in session, first with 1,000 sessions under its
// key prefix, then after BENCH_REDIS_SESSIONS more realistic records (copies of the logged-in record
// with other ids and identities, same TTL) were written with pipelined SET ... EX.
//
// Environment: BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 1), BENCH_CONNECTIONS (32),
// BENCH_LOAD (autocannon|wrk; default wrk when found), BENCH_LOGIN_SECONDS (3), BENCH_SESSIONS
// (100000), BENCH_REDIS_SESSIONS (1000000; 0 skips the flatness rows), BENCH_QUICK=1 (skip the
// cluster, the Redis flatness and the sessions-RSS rows), BENCH_RESULTS_DIR (default bench/results),
// BENCH_TIMEOUT (s, default 600), BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateways, e.g.
// '--cpu-prof --cpu-prof-dir=DIR').
// Every process it starts is stopped at the end, on error and on Ctrl-C, by its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { startLocalIdp, type LocalIdp } from '../dev/local-idp.js';
import { formatIssues, loadConfigFile } from '../src/config/load.js';
import { loginAtLocalIdp, TestBrowser } from '../test/support/browser.js';
import { freePort } from '../test/support/free-port.js';
import { startRedisServer, type TestRedis } from '../test/support/redis-server.js';
import { findBinary } from '../test/support/services.js';
import {
  parseStatusCheck,
  parseWrkOutput,
  STATUS_CHECK_LUA,
  wrkArguments,
  type StatusCheck,
} from './peers/wrk.js';
import { benchGatewayConfig, buildGateway, gatewayEntryArgs } from './gateway-setup.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
}

function loadFromEnv(): 'autocannon' | 'wrk' | 'auto' {
  const raw = process.env.BENCH_LOAD;
  if (raw === undefined || raw === '') return 'auto';
  if (raw === 'autocannon' || raw === 'wrk') return raw;
  throw new Error('BENCH_LOAD must be autocannon or wrk');
}

const settings = {
  durationS: numberFromEnv('BENCH_DURATION', 5),
  warmupS: numberFromEnv('BENCH_WARMUP', 1),
  connections: numberFromEnv('BENCH_CONNECTIONS', 32),
  load: loadFromEnv(),
  loginSeconds: numberFromEnv('BENCH_LOGIN_SECONDS', 3),
  sessions: numberFromEnv('BENCH_SESSIONS', 100_000),
  redisSessions: numberFromEnv('BENCH_REDIS_SESSIONS', 1_000_000),
  quick: process.env.BENCH_QUICK === '1',
  timeoutS: numberFromEnv('BENCH_TIMEOUT', 600),
  resultsDir: process.env.BENCH_RESULTS_DIR ?? join(root, 'bench', 'results'),
};

const CLIENT_ID = 'portcullis-bench';
const CLIENT_SECRET = 'portcullis-bench-secret';
const USER = 'alice';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3_000;
/** Sessions under the cache-off gateway's key prefix for the first Redis flatness row. */
const FLATNESS_BASE_SESSIONS = 1_000;

// ---------------------------------------------------------------------------------------------
// Child processes: every one is recorded by pid and stopped by pid.

interface Child {
  name: string;
  process: ChildProcess;
  output: () => string;
}

const children: Child[] = [];
let redis: TestRedis | undefined;
/** The bench's own connection to that redis-server: fills it, reads INFO and the session records. */
let redisAdmin: Redis | undefined;
let idp: LocalIdp | undefined;
const tmpDirs: string[] = [];

function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  command: string = process.execPath,
): Child {
  // detached: the child leads its own process group, so a cluster primary's workers can be
  // killed with it (by the leader's pid) if it ignores SIGTERM.
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const collect = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const entry = { name, process: child, output: () => log };
  children.push(entry);
  return entry;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Runs a short-lived child (wrk) to its end; resolves with its exit code once its output is read.
 * It is then dropped from `children`, so nothing signals its pid (or a later reuse of it) again.
 */
function runToEnd(
  name: string,
  command: string,
  args: string[],
): Promise<{ code: number | null; output: string }> {
  const child = startChild(name, args, {}, command);
  return new Promise((done, fail) => {
    child.process.once('error', fail);
    child.process.once('close', (code) => {
      const index = children.indexOf(child);
      if (index !== -1) children.splice(index, 1);
      done({ code, output: child.output() });
    });
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function stopChild(child: Child): Promise<void> {
  const { process: proc } = child;
  if (proc.pid === undefined) return;
  if (alive(proc)) {
    const exited = new Promise<void>((done) => proc.once('exit', () => done()));
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(STOP_GRACE_MS)]);
  }
  // Whatever is left of the group (cluster workers of a primary that did not stop them).
  killGroup(proc.pid, 'SIGKILL');
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.allSettled(children.map(stopChild));
    redisAdmin?.disconnect();
    await Promise.allSettled([redis?.close(), idp?.close()]);
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

// Last resort if the process exits without cleanup() (an uncaught throw): no orphans.
process.on('exit', () => {
  for (const child of children) if (child.process.pid !== undefined) killGroup(child.process.pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping everything it started\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers (loopback only)

function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { headers: { connection: 'close', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

async function waitFor200(child: Child, url: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!alive(child.process)) throw new Error(`${child.name} exited during start-up:\n${child.output()}`);
    if ((await get(url).catch(() => 0)) === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${child.name} did not answer 200 at ${url}:\n${child.output()}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// The processes under test

async function startUpstream(): Promise<{ url: string; child: Child }> {
  const child = startChild('upstream', [join(root, 'bench', 'upstream.mjs')]);
  const port = await new Promise<number>((done, fail) => {
    let text = '';
    const timer = setTimeout(() => fail(new Error(`upstream did not start:\n${child.output()}`)), 10_000);
    child.process.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /"port":(\d+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        done(Number(match[1]));
      }
    });
    child.process.once('exit', () => fail(new Error(`upstream exited:\n${child.output()}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

interface GatewaySpec {
  name: string;
  port: number;
  store: 'memory' | 'redis';
  workers?: number | 'auto';
  /** session.redis.cache.ttl; absent: the gateway's default. */
  sessionCacheTtl?: string;
}

function keyPrefixOf(spec: GatewaySpec): string {
  return `bench-${spec.name}:`;
}

interface RunningGateway {
  spec: GatewaySpec;
  child: Child;
  /** What the browser uses (cookies are scoped to it): http://localhost:PORT. */
  publicUrl: string;
  /** What the load generator uses: http://127.0.0.1:PORT. */
  url: string;
  cookie: string;
  configFile: string;
}

function callbackUrl(port: number): string {
  return `http://localhost:${port}/.portcullis/callback/local`;
}

async function startGatewayProcess(spec: GatewaySpec, upstreamUrl: string, idpIssuer: string) {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${spec.name}-`));
  tmpDirs.push(dir);
  const publicUrl = `http://localhost:${spec.port}`;
  const session: Record<string, unknown> = { secret: randomBytes(32).toString('hex') };
  if (spec.store === 'redis') {
    if (redis === undefined) throw new Error('redis is not running');
    session.store = 'redis';
    session.redis = {
      url: redis.url,
      keyPrefix: keyPrefixOf(spec),
      ...(spec.sessionCacheTtl === undefined ? {} : { cache: { ttl: spec.sessionCacheTtl } }),
    };
  }
  const config = benchGatewayConfig({
    port: spec.port,
    publicUrl,
    session,
    idpIssuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    upstreamUrl,
    dataDir: join(dir, 'data'),
    ...(spec.workers === undefined ? {} : { server: { workers: spec.workers } }),
  });
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = startChild(`gateway-${spec.name}`, [...gatewayNodeArgs(), ...gatewayEntryArgs(configFile)], {
    NODE_ENV: 'production',
  });
  const url = `http://127.0.0.1:${spec.port}`;
  await waitFor200(child, `${url}/public/ready`);
  return { child, publicUrl, url, configFile };
}

/** Extra node flags for the gateways, e.g. BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
function gatewayNodeArgs(): string[] {
  return (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}

/** One full login as a browser: gateway -> IdP -> form -> callback -> upstream 200. Returns the cookie. */
async function login(publicUrl: string): Promise<string> {
  const browser = new TestBrowser();
  const { final: loginPage } = await browser.navigate(`${publicUrl}/app/`);
  const { final } = await loginAtLocalIdp(browser, loginPage, USER, USER);
  if (final.status !== 200 || final.body !== 'hello from upstream\n') {
    throw new Error(`login through ${publicUrl} ended with ${final.status} at ${final.url}`);
  }
  return browser.cookieHeaderFor(`${publicUrl}/`);
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface LoadResult {
  loadGenerator: LoadGenerator['kind'];
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
  /** autocannon: every answer outside 2xx; wrk: its "Non-2xx or 3xx responses" (status ≥ 400). */
  non2xx: number;
  errors: number;
  timeouts: number;
  /** wrk only: the check run before the measured one, which counts every answer other than 200. */
  check?: StatusCheck;
  /** wrk only: what one request with the same headers got right after the measured run. */
  statusAfter?: number;
  /** wrk only: its own output of the measured run. */
  wrkOutput?: string;
}

// ---------------------------------------------------------------------------------------------
// Load generator: wrk (C, one thread, own process) when installed, else autocannon (Node, in the
// bench process, so it runs on a fresh machine after `npm ci`). On 2 cores autocannon takes a much
// larger share of the CPU away from the gateway than wrk does.

interface LoadGenerator {
  kind: 'autocannon' | 'wrk';
  /** The wrk binary; null for autocannon. */
  binary: string | null;
  /** For the table header and the JSON, e.g. "wrk 4.1.0 -t1 -c32 --latency". */
  label: string;
}

function chooseLoadGenerator(): LoadGenerator {
  const wrk = settings.load === 'autocannon' ? null : findBinary('wrk');
  if (settings.load === 'wrk' && wrk === null)
    throw new Error('BENCH_LOAD=wrk, but no wrk binary was found (Debian package wrk)');
  if (wrk === null)
    return {
      kind: 'autocannon',
      binary: null,
      label: `autocannon -c${settings.connections} (in the bench process)`,
    };
  // `wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] Copyright ..." and the usage text.
  const banner = spawnSync(wrk, ['-v'], { encoding: 'utf8' });
  const version = /^wrk (\S+)/.exec(`${banner.stdout}${banner.stderr}`)?.[1] ?? 'unknown version';
  return { kind: 'wrk', binary: wrk, label: `wrk ${version} -t1 -c${settings.connections} --latency` };
}

const loadGenerator = chooseLoadGenerator();
/** The status-check Lua script (bench/peers/wrk.ts), written to a temp dir on first use. */
let statusScriptFile: string | undefined;

/** wrk takes whole seconds only (`-d0.5s` is refused). */
function wrkSeconds(seconds: number): number {
  return Math.max(1, Math.ceil(seconds));
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

async function driveAutocannon(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<LoadResult> {
  // autocannon's own histogram has 1 ms resolution; keep every response time for sub-ms percentiles.
  let times = new Float64Array(1 << 16);
  let count = 0;
  const instance = autocannon({ url, headers, connections: settings.connections, duration: seconds });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    if (count === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[count++] = responseTime;
  });
  const started = process.hrtime.bigint();
  const result = await instance;
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = times.subarray(0, count).sort();
  return {
    loadGenerator: 'autocannon',
    requestsPerSecond: count / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    responses: count,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

async function runWrk(url: string, headers: Record<string, string>, seconds: number, scriptFile?: string) {
  if (loadGenerator.binary === null) throw new Error('wrk is not the load generator');
  const args = wrkArguments({
    url,
    connections: settings.connections,
    durationS: wrkSeconds(seconds),
    headers,
    scriptFile,
  });
  const { code, output } = await runToEnd(`wrk ${url}`, loadGenerator.binary, args);
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${output}`);
  return output;
}

/**
 * A check run (the warm-up, at least 1 s: the Lua script counts every answer that is not 200, which
 * wrk itself does not — it counts only status ≥ 400, and a 302 to a sign-in page is the failure to
 * catch), then the measured run with --latency and no script (a Lua response() callback costs wrk
 * CPU per response), then one request that must still get 200.
 */
async function measureWithWrk(
  url: string,
  headers: Record<string, string>,
  beforeMeasuredRun: () => Promise<void>,
): Promise<LoadResult> {
  if (statusScriptFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-wrk-'));
    tmpDirs.push(dir);
    statusScriptFile = join(dir, 'status-check.lua');
    writeFileSync(statusScriptFile, STATUS_CHECK_LUA);
  }
  const checkOutput = await runWrk(url, headers, settings.warmupS, statusScriptFile);
  const check = parseStatusCheck(checkOutput);
  if (check === null) throw new Error(`wrk check run printed no status line:\n${checkOutput}`);
  await beforeMeasuredRun();
  const output = await runWrk(url, headers, settings.durationS);
  const measured = parseWrkOutput(output);
  const statusAfter = await get(url, headers).catch(() => 0);
  const { connect, read, write, timeout } = measured.socketErrors;
  return {
    loadGenerator: 'wrk',
    requestsPerSecond: measured.requestsPerSecond,
    p50Ms: measured.p50Ms,
    p99Ms: measured.p99Ms,
    responses: measured.requests,
    non2xx: measured.non2xx3xx,
    errors: connect + read + write,
    timeouts: timeout,
    check,
    statusAfter,
    wrkOutput: output,
  };
}

/** Warm-up (thrown away), then the measured run; `beforeMeasuredRun` runs between the two. */
async function measure(
  url: string,
  headers: Record<string, string> = {},
  beforeMeasuredRun: () => Promise<void> = () => Promise.resolve(),
): Promise<LoadResult> {
  if (loadGenerator.kind === 'wrk') return measureWithWrk(url, headers, beforeMeasuredRun);
  if (settings.warmupS > 0) await driveAutocannon(url, headers, settings.warmupS);
  await beforeMeasuredRun();
  return driveAutocannon(url, headers, settings.durationS);
}

async function measureLogins(
  publicUrl: string,
): Promise<{ count: number; perSecond: number; p50Ms: number; p99Ms: number }> {
  await login(publicUrl); // warm-up, untimed
  const times: number[] = [];
  const started = performance.now();
  const until = started + settings.loginSeconds * 1000;
  do {
    const t0 = performance.now();
    await login(publicUrl);
    times.push(performance.now() - t0);
  } while (performance.now() < until);
  const elapsedS = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(times).sort();
  return {
    count: times.length,
    perSecond: times.length / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/** The JSON line bench/session-rss.mjs prints (bytes, from process.memoryUsage()). */
interface SessionRssReport {
  sessions: number;
  rssBefore: number;
  rssAfter: number;
  heapUsedAfter: number;
}

function sessionsRss(configFile: string, count: number): Promise<SessionRssReport> {
  const child = startChild('session-rss', [
    '--expose-gc',
    join(root, 'bench', 'session-rss.mjs'),
    configFile,
    String(count),
  ]);
  return new Promise((done, fail) => {
    child.process.once('exit', (code) => {
      const line = child
        .output()
        .trim()
        .split('\n')
        .find((l) => l.startsWith('{"sessions"'));
      if (code !== 0 || line === undefined)
        fail(new Error(`session-rss failed (${code}):\n${child.output()}`));
      else done(JSON.parse(line) as SessionRssReport);
    });
  });
}

/** VmRSS from /proc (Linux); null elsewhere. */
function rssOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Redis: the gateways' session cache setting, the GETs a row cost, and the flatness fill.

/** The gateway's session.redis.cache as its own config loader resolves it (defaults included). */
function sessionCacheNote(configFile: string): string {
  const loaded = loadConfigFile(configFile, {});
  if (!loaded.ok) throw new Error(`${configFile}:\n${formatIssues(loaded.error)}`);
  const cache = loaded.value.config.session.redis?.cache;
  if (cache === undefined) return 'no Redis session config';
  return cache.ttl > 0
    ? `session cache on (session.redis.cache: ${cache.ttl / 1000} s, ${cache.maxEntries.toLocaleString('en-US')} entries)`
    : 'session cache off (session.redis.cache.ttl 0s)';
}

function admin(): Redis {
  if (redisAdmin === undefined) throw new Error('redis is not running');
  return redisAdmin;
}

/** GET commands the redis-server has run so far (INFO commandstats); every gateway shares it. */
async function redisGetCalls(): Promise<number> {
  const info = await admin().info('commandstats');
  return Number(/^cmdstat_get:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

/** measure(), plus how many Redis GETs the measured run caused per response. */
async function measureCountingGets(
  url: string,
  headers: Record<string, string>,
): Promise<{ result: LoadResult; getsPerRequest: number }> {
  let before = 0;
  const result = await measure(url, headers, async () => {
    before = await redisGetCalls();
  });
  const gets = (await redisGetCalls()) - before;
  return { result, getsPerRequest: gets / Math.max(1, result.responses) };
}

function redisRemark(configFile: string, getsPerRequest: number): string {
  return `${sessionCacheNote(configFile)}, ${getsPerRequest.toFixed(2)} Redis GETs per request`;
}

interface LoggedInRecord {
  key: string;
  /** The record as the gateway stored it (connect-redis: JSON). */
  json: string;
  ttlSeconds: number;
}

/** express-session's cookie value is `s:<id>.<signature>`, URI-encoded; other cookies are skipped. */
function sessionIdsIn(cookieHeader: string): string[] {
  return cookieHeader.split(';').flatMap((pair) => {
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1).trim());
    } catch {
      return [];
    }
    const dot = value.lastIndexOf('.');
    return value.startsWith('s:') && dot > 2 ? [value.slice(2, dot)] : [];
  });
}

async function loggedInRecord(sessionPrefix: string, cookieHeader: string): Promise<LoggedInRecord> {
  for (const id of sessionIdsIn(cookieHeader)) {
    const key = `${sessionPrefix}${id}`;
    const json = await admin().get(key);
    if (json !== null) return { key, json, ttlSeconds: await admin().ttl(key) };
  }
  throw new Error(`no session under ${sessionPrefix} for the bench's cookie`);
}

async function countKeys(pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await admin().scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

async function redisState(): Promise<{ keys: number; usedMemoryHuman: string; usedMemory: number }> {
  const memory = await admin().info('memory');
  return {
    keys: await admin().dbsize(),
    usedMemoryHuman: /^used_memory_human:(\S+)/m.exec(memory)?.[1] ?? '?',
    usedMemory: Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? Number.NaN),
  };
}

const FILL_BATCH = 10_000;
/** Per record: 24 (id) + 24 (CSRF token) + 12 (subject) + 32 (user id) random bytes. */
const RANDOM_BYTES_PER_RECORD = 92;

/**
 * Writes `count` session records under `sessionPrefix`, shaped like the logged-in session's own
 * record: a new 32-character id (as express-session's uid-safe makes), another user's identity
 * (subject, user id, name, email, 3 groups) and CSRF token, the same cookie settings and TTL.
 * Pipelined SET ... EX, one batch in flight while the next one is built.
 */
async function fillSessions(
  sessionPrefix: string,
  template: LoggedInRecord,
  count: number,
  firstIndex: number,
): Promise<{ seconds: number; meanValueBytes: number }> {
  const record = JSON.parse(template.json) as Record<string, unknown>;
  const identity = record.identity as Record<string, unknown> | undefined;
  if (identity === undefined) throw new Error(`${template.key} holds no identity`);
  const userIdLength = typeof identity.userId === 'string' ? identity.userId.length : 0;
  const ttlSeconds = template.ttlSeconds > 0 ? template.ttlSeconds : 8 * 3_600;
  const started = performance.now();
  let bytes = 0;
  let previous: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < count; start += FILL_BATCH) {
    const size = Math.min(FILL_BATCH, count - start);
    const random = randomBytes(size * RANDOM_BYTES_PER_RECORD);
    const pipeline = admin().pipeline();
    for (let j = 0; j < size; j += 1) {
      const i = firstIndex + start + j;
      const at = j * RANDOM_BYTES_PER_RECORD;
      const username = `user${i}`;
      const value = JSON.stringify({
        ...record,
        identity: {
          ...identity,
          subject: `${String(identity.providerId)}:${random.toString('hex', at + 48, at + 60)}`,
          ...(userIdLength === 0
            ? {}
            : { userId: random.toString('hex', at + 60, at + 92).slice(0, userIdLength) }),
          username,
          email: `${username}@example.com`,
          name: `User Number ${i}`,
          groups: ['all-users', 'eng', `team-${i % 50}`],
        },
        csrfToken: random.toString('base64url', at + 24, at + 48),
      });
      bytes += value.length;
      pipeline.set(`${sessionPrefix}${random.toString('base64url', at, at + 24)}`, value, 'EX', ttlSeconds);
    }
    await previous;
    previous = pipeline.exec().then((replies) => {
      const failed = replies?.find(([err]) => err !== null);
      if (replies === null || failed !== undefined)
        throw new Error(`filling Redis failed: ${String(failed?.[0] ?? 'no replies')}`);
    });
  }
  await previous;
  return { seconds: (performance.now() - started) / 1000, meanValueBytes: count > 0 ? bytes / count : 0 };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  name: string;
  kind: 'load' | 'logins' | 'memory';
  gateway?: string;
  requestsPerSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  vsUpstream: number | null;
  vsPublic: number | null;
  notes: string;
  raw?: unknown;
}

const rows: Row[] = [];

function loadRow(
  name: string,
  result: LoadResult,
  gateway: string | undefined,
  upstream: LoadResult | undefined,
  publicRoute: LoadResult | undefined,
  remarks: readonly string[] = [],
): Row {
  const problems: string[] = [];
  if (result.check !== undefined && result.check.not200 > 0)
    problems.push(
      `check run: ${result.check.not200} of ${result.check.responses} not 200 (first ${result.check.firstOther})`,
    );
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx`);
  if (result.errors > 0) problems.push(`${result.errors} errors`);
  if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`);
  if (result.statusAfter !== undefined && result.statusAfter !== 200)
    problems.push(`after the run: ${result.statusAfter}, not 200`);
  const row: Row = {
    name,
    kind: 'load',
    ...(gateway === undefined ? {} : { gateway }),
    requestsPerSecond: result.requestsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    vsUpstream: upstream ? result.requestsPerSecond / upstream.requestsPerSecond : null,
    vsPublic: publicRoute ? result.requestsPerSecond / publicRoute.requestsPerSecond : null,
    notes: [...problems, ...remarks].join('; '),
    raw: result,
  };
  rows.push(row);
  process.stderr.write(`bench: ${name}: ${Math.round(result.requestsPerSecond)} req/s\n`);
  return row;
}

const fmtInt = (n: number | null) => (n === null ? '—' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n: number | null) => (n === null ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtRatio = (n: number | null) => (n === null ? '—' : n.toFixed(2));

function table(): string {
  const lines = [
    `| row (load: ${loadGenerator.label}) | req/s | p50 ms | p99 ms | × upstream | × public route | notes |`,
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.name} | ${fmtInt(row.requestsPerSecond)} | ${fmtMs(row.p50Ms)} | ${fmtMs(row.p99Ms)} | ${fmtRatio(row.vsUpstream)} | ${fmtRatio(row.vsPublic)} | ${row.notes} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

const fmtCount = (n: number) => n.toLocaleString('en-US');

/**
 * Issue 7: "Redis store hot-path cost flat from 1 k to 1 M sessions". The authenticated route of the
 * cache-off gateway with its own logged-in session, with 1,000 sessions under its key prefix, then
 * again after BENCH_REDIS_SESSIONS more were written. The GET count per request shows that every
 * request really read Redis.
 */
async function measureRedisFlatness(gateway: RunningGateway, direct: LoadResult): Promise<void> {
  const sessionPrefix = `${keyPrefixOf(gateway.spec)}sess:`;
  const template = await loggedInRecord(sessionPrefix, gateway.cookie);
  const present = await countKeys(`${sessionPrefix}*`);
  const baseFill = Math.max(0, FLATNESS_BASE_SESSIONS - present);
  await fillSessions(sessionPrefix, template, baseFill, 0);
  const cacheNote = sessionCacheNote(gateway.configFile);
  const url = `${gateway.url}/app/x`;
  const headers = { cookie: gateway.cookie, accept: 'text/html' };
  const measureWith = async (sessions: number) => {
    const status = await get(url, headers);
    if (status !== 200)
      throw new Error(`${gateway.spec.name}: the session cookie got ${status} with ${sessions} sessions`);
    const measured = await measureCountingGets(url, headers);
    return { ...measured, redis: await redisState() };
  };
  const described = (sessions: number, redisNow: Awaited<ReturnType<typeof redisState>>, gets: number) =>
    `${cacheNote}, ${gets.toFixed(2)} Redis GETs per request; measured session: the bench's logged-in one, ` +
    `among ${fmtCount(sessions)} under the gateway's key prefix; Redis: ${fmtCount(redisNow.keys)} keys, ` +
    `used_memory ${redisNow.usedMemoryHuman}`;
  const name = (sessions: number) => `authenticated route (Redis, cache off, ${fmtCount(sessions)} sessions)`;

  const fewSessions = present + baseFill;
  // This gateway has served nothing but its login so far; the other gateways' authenticated rows
  // come after their public route row. One untimed round first, so the 1,000-session row is not the
  // one that pays for the JIT warming up.
  await measure(url, headers);
  const few = await measureWith(fewSessions);
  loadRow(name(fewSessions), few.result, gateway.spec.name, direct, undefined, [
    described(fewSessions, few.redis, few.getsPerRequest),
  ]);

  process.stderr.write(`bench: writing ${fmtCount(settings.redisSessions)} session records to Redis\n`);
  const fill = await fillSessions(sessionPrefix, template, settings.redisSessions, baseFill);
  process.stderr.write(`bench: written in ${fill.seconds.toFixed(1)} s\n`);
  const manySessions = fewSessions + settings.redisSessions;
  const many = await measureWith(manySessions);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  loadRow(name(manySessions), many.result, gateway.spec.name, direct, undefined, [
    `${ratio(many.result.requestsPerSecond, few.result.requestsPerSecond)}× the req/s, ` +
      `${ratio(many.result.p50Ms, few.result.p50Ms)}× the p50 and ${ratio(many.result.p99Ms, few.result.p99Ms)}× the p99 ` +
      `of the ${fmtCount(fewSessions)}-session row`,
    `${fmtCount(settings.redisSessions)} records added in ${fill.seconds.toFixed(1)} s ` +
      `(pipelined SET EX, ${Math.round(fill.meanValueBytes)} B of JSON each, TTL ${template.ttlSeconds} s)`,
    described(manySessions, many.redis, many.getsPerRequest),
  ]).raw = { ...many.result, fill, redis: many.redis, fewSessions: few.redis };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  await buildGateway(root, (line) => process.stderr.write(`bench: ${line}\n`));
  const redisBinary = findBinary('redis-server');
  const cookieOf = (g: RunningGateway) => ({ cookie: g.cookie, accept: 'text/html' });

  const ports = {
    memory: await freePort(),
    redis: await freePort(),
    cluster: await freePort(),
    redisNoCache: await freePort(),
  };
  const upstream = await startUpstream();
  idp = await startLocalIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: Object.values(ports).map(callbackUrl),
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  });
  if (redisBinary !== null) {
    redis = await startRedisServer();
    redisAdmin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  } else process.stderr.write('bench: redis-server not found: the Redis and cluster rows are skipped\n');

  const specs: GatewaySpec[] = [{ name: 'memory', port: ports.memory, store: 'memory' }];
  if (redis) specs.push({ name: 'redis', port: ports.redis, store: 'redis' });
  if (redis && !settings.quick)
    specs.push({ name: 'cluster', port: ports.cluster, store: 'redis', workers: 'auto' });
  // The flatness rows must see Redis reads, not the in-process session cache in front of them.
  if (redis && !settings.quick && settings.redisSessions > 0)
    specs.push({ name: 'redis-nocache', port: ports.redisNoCache, store: 'redis', sessionCacheTtl: '0s' });
  const gateways = new Map<string, RunningGateway>();
  for (const spec of specs) {
    const started = await startGatewayProcess(spec, upstream.url, idp.issuer);
    gateways.set(spec.name, { spec, ...started, cookie: await login(started.publicUrl) });
  }
  // Each cookie gets 200 from its gateway before any measurement.
  for (const gateway of gateways.values()) {
    const status = await get(`${gateway.url}/app/`, cookieOf(gateway));
    if (status !== 200) throw new Error(`${gateway.spec.name}: the session cookie got ${status}, not 200`);
  }

  const direct = await measure(`${upstream.url}/app/`);
  loadRow('upstream direct (node:http, 20-byte body)', direct, undefined, direct, undefined);

  const memory = gateways.get('memory') as RunningGateway;
  const memoryPublic = await measure(`${memory.url}/public/x`);
  loadRow('public route (memory gateway)', memoryPublic, 'memory', direct, memoryPublic);
  loadRow(
    'authenticated route (memory)',
    await measure(`${memory.url}/app/x`, cookieOf(memory)),
    'memory',
    direct,
    memoryPublic,
  );
  loadRow(
    'forward-auth decision, Envoy style GET /.portcullis/auth/app/x (memory)',
    await measure(`${memory.url}/.portcullis/auth/app/x`, {
      cookie: memory.cookie,
      accept: 'application/json',
    }),
    'memory',
    direct,
    memoryPublic,
  );

  const redisGateway = gateways.get('redis');
  if (redisGateway) {
    const redisPublic = await measure(`${redisGateway.url}/public/x`);
    loadRow('public route (Redis gateway)', redisPublic, 'redis', direct, redisPublic);
    const authenticated = await measureCountingGets(`${redisGateway.url}/app/x`, cookieOf(redisGateway));
    loadRow('authenticated route (Redis)', authenticated.result, 'redis', direct, redisPublic, [
      redisRemark(redisGateway.configFile, authenticated.getsPerRequest),
    ]);
  }
  const cluster = gateways.get('cluster');
  if (cluster) {
    const workers = availableParallelism();
    const clusterPublic = await measure(`${cluster.url}/public/x`);
    loadRow(
      `public route (cluster, ${workers} workers, Redis)`,
      clusterPublic,
      'cluster',
      direct,
      clusterPublic,
    );
    const authenticated = await measureCountingGets(`${cluster.url}/app/x`, cookieOf(cluster));
    loadRow(
      `authenticated route (cluster, ${workers} workers, Redis)`,
      authenticated.result,
      'cluster',
      direct,
      clusterPublic,
      [redisRemark(cluster.configFile, authenticated.getsPerRequest)],
    );
  }
  const noCache = gateways.get('redis-nocache');
  if (noCache) await measureRedisFlatness(noCache, direct);

  const memoryGatewayRss = rssOf(memory.child.process.pid);
  const logins = await measureLogins(memory.publicUrl);
  rows.push({
    name: 'full login round trips (memory gateway, sequential)',
    kind: 'logins',
    gateway: 'memory',
    requestsPerSecond: logins.perSecond,
    p50Ms: logins.p50Ms,
    p99Ms: logins.p99Ms,
    vsUpstream: null,
    vsPublic: null,
    notes: `logins/s, not req/s; ${logins.count} logins, IdP included`,
    raw: logins,
  });
  process.stderr.write(`bench: logins: ${logins.perSecond.toFixed(1)}/s\n`);

  if (!settings.quick) {
    const rss = await sessionsRss(memory.configFile, settings.sessions);
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
    rows.push({
      name: `RSS with ${settings.sessions.toLocaleString('en-US')} live sessions (memory store)`,
      kind: 'memory',
      requestsPerSecond: null,
      p50Ms: null,
      p99Ms: null,
      vsUpstream: null,
      vsPublic: null,
      notes:
        `${mb(rss.rssAfter)} MB RSS (${mb(rss.rssAfter - rss.rssBefore)} MB over the same gateway without sessions; heap ${mb(rss.heapUsedAfter)} MB); ` +
        `whole gateway composed in a child process, warmed with 3,000 proxied requests` +
        (memoryGatewayRss === null ? '' : `; the memory gateway after load: ${mb(memoryGatewayRss)} MB`),
      raw: { ...rss, memoryGatewayRssAfterLoad: memoryGatewayRss },
    });
  }

  const output = table();
  process.stdout.write(`\n${output}\n\n`);
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  mkdirSync(settings.resultsDir, { recursive: true });
  const file = join(settings.resultsDir, `${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        machine: {
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model ?? null,
          node: process.version,
          platform: process.platform,
        },
        loadGenerator: loadGenerator.label,
        settings,
        rows,
        table: output,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
}

const overall = setTimeout(() => {
  process.stderr.write(`bench: still running after ${settings.timeoutS} s, giving up\n`);
  void cleanup().finally(() => process.exit(1));
}, settings.timeoutS * 1000);
overall.unref();

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await cleanup();
  process.exit(1);
}
