// `npm run bench`: the gateway's hot path under load, on loopback, in one run.
//
// Starts a bare Node upstream (own process), the local OIDC provider (in this process), a gateway
// with the memory store and one with the Redis store (own processes, compiled: `node dist/src/main.js`,
// configured through the real config loader), optionally a cluster-mode gateway (workers: auto,
// Redis); logs in once per gateway to get a session cookie; drives load with autocannon; prints one
// Markdown table and writes the figures as JSON to bench/results/<UTC stamp>.json.
//
// Environment: BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 1), BENCH_CONNECTIONS (32),
// BENCH_LOGIN_SECONDS (3), BENCH_SESSIONS (100000), BENCH_QUICK=1 (skip the cluster and the
// sessions-RSS rows), BENCH_RESULTS_DIR (default bench/results), BENCH_TIMEOUT (s, default 600). BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateways, e.g. '--cpu-prof --cpu-prof-dir=DIR').
// Every process it starts is stopped at the end, on error and on Ctrl-C, by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startLocalIdp, type LocalIdp } from '../dev/local-idp.js';
import { loginAtLocalIdp, TestBrowser } from '../test/support/browser.js';
import { freePort } from '../test/support/free-port.js';
import { startRedisServer, type TestRedis } from '../test/support/redis-server.js';
import { findBinary } from '../test/support/services.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
}

const settings = {
  durationS: numberFromEnv('BENCH_DURATION', 5),
  warmupS: numberFromEnv('BENCH_WARMUP', 1),
  connections: numberFromEnv('BENCH_CONNECTIONS', 32),
  loginSeconds: numberFromEnv('BENCH_LOGIN_SECONDS', 3),
  sessions: numberFromEnv('BENCH_SESSIONS', 100_000),
  quick: process.env.BENCH_QUICK === '1',
  timeoutS: numberFromEnv('BENCH_TIMEOUT', 600),
  resultsDir: process.env.BENCH_RESULTS_DIR ?? join(root, 'bench', 'results'),
};

const CLIENT_ID = 'portcullis-bench';
const CLIENT_SECRET = 'portcullis-bench-secret';
const USER = 'alice';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3_000;

// ---------------------------------------------------------------------------------------------
// Child processes: every one is recorded by pid and stopped by pid.

interface Child {
  name: string;
  process: ChildProcess;
  output: () => string;
}

const children: Child[] = [];
let redis: TestRedis | undefined;
let idp: LocalIdp | undefined;
const tmpDirs: string[] = [];

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  // detached: the child leads its own process group, so a cluster primary's workers can be
  // killed with it (by the leader's pid) if it ignores SIGTERM.
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const collect = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const entry = { name, process: child, output: () => log };
  children.push(entry);
  return entry;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
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
    session.redis = { url: redis.url, keyPrefix: `bench-${spec.name}:` };
  }
  const config = {
    server: {
      listen: `127.0.0.1:${spec.port}`,
      publicUrl,
      // Forward-auth in Traefik style needs this; Envoy style (used below) does not. Set on every
      // gateway so that the public and the authenticated rows pay for the same client addressing.
      trustProxy: ['loopback'],
      shutdownGraceSeconds: 1,
      ...(spec.workers === undefined ? {} : { workers: spec.workers }),
    },
    session,
    providers: [
      {
        id: 'local',
        type: 'oidc',
        displayName: 'Local IdP',
        issuer: idpIssuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: ['openid', 'profile', 'email', 'groups'],
        claims: { username: 'preferred_username' },
        insecureAllowHttpIssuer: true,
      },
    ],
    routes: [
      { id: 'public', path: '/public/', upstream: upstreamUrl, public: true },
      { id: 'app', path: '/', upstream: upstreamUrl, allow: { groups: ['eng'] } },
    ],
    roles: { admin: { groups: ['admins'] } },
    storage: { dataDir: join(dir, 'data') },
    log: { level: 'warn', accessLog: false },
  };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = startChild(
    `gateway-${spec.name}`,
    [...gatewayNodeArgs(), 'dist/src/main.js', '--config', configFile],
    {
      NODE_ENV: 'production',
    },
  );
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
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

async function drive(url: string, headers: Record<string, string>, seconds: number): Promise<LoadResult> {
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
    requestsPerSecond: count / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    responses: count,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

async function measure(url: string, headers: Record<string, string> = {}): Promise<LoadResult> {
  if (settings.warmupS > 0) await drive(url, headers, settings.warmupS);
  return drive(url, headers, settings.durationS);
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

function sessionsRss(
  configFile: string,
  count: number,
): Promise<{ sessions: number; rssBefore: number; rssAfter: number; heapUsedAfter: number }> {
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
      else done(JSON.parse(line));
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
): Row {
  const problems: string[] = [];
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx`);
  if (result.errors > 0) problems.push(`${result.errors} errors`);
  if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`);
  const row: Row = {
    name,
    kind: 'load',
    ...(gateway === undefined ? {} : { gateway }),
    requestsPerSecond: result.requestsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    vsUpstream: upstream ? result.requestsPerSecond / upstream.requestsPerSecond : null,
    vsPublic: publicRoute ? result.requestsPerSecond / publicRoute.requestsPerSecond : null,
    notes: problems.join(', '),
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
    '| row | req/s | p50 ms | p99 ms | × upstream | × public route | notes |',
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

/**
 * The gateways run compiled, as deployed (`node dist/src/main.js`): under tsx the loader's own
 * worker and the transformed sources add ~50 MB RSS and would distort the memory rows.
 */
function buildGateway(): Promise<void> {
  process.stderr.write('bench: npm run build\n');
  const child = spawn('npm', ['run', 'build', '--silent'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((done, fail) =>
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`npm run build failed (${code})`)))),
  );
}

async function main(): Promise<void> {
  const startedAt = new Date();
  await buildGateway();
  const redisBinary = findBinary('redis-server');
  const cookieOf = (g: RunningGateway) => ({ cookie: g.cookie, accept: 'text/html' });

  const ports = {
    memory: await freePort(),
    redis: await freePort(),
    cluster: await freePort(),
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
  if (redisBinary !== null) redis = await startRedisServer();
  else process.stderr.write('bench: redis-server not found: the Redis and cluster rows are skipped\n');

  const specs: GatewaySpec[] = [{ name: 'memory', port: ports.memory, store: 'memory' }];
  if (redis) specs.push({ name: 'redis', port: ports.redis, store: 'redis' });
  if (redis && !settings.quick)
    specs.push({ name: 'cluster', port: ports.cluster, store: 'redis', workers: 'auto' });
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
    loadRow(
      'authenticated route (Redis)',
      await measure(`${redisGateway.url}/app/x`, cookieOf(redisGateway)),
      'redis',
      direct,
      redisPublic,
    );
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
    loadRow(
      `authenticated route (cluster, ${workers} workers, Redis)`,
      await measure(`${cluster.url}/app/x`, cookieOf(cluster)),
      'cluster',
      direct,
      clusterPublic,
    );
  }

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
        loadGenerator: 'autocannon (in the bench process)',
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
