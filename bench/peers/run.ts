// `npm run bench:peers`: Portcullis beside Apache + mod_auth_openidc and nginx, in one run, under one
// load generator (wrk), in front of one upstream (issue 7). See bench/peers/README.md.
//
// On 127.0.0.1, on free ports, from config files in a temp directory, it starts: the upstream (nginx,
// one worker, 20-byte body); the local OIDC provider (dev/local-idp.ts, in this process); a private
// redis-server; nginx (plain proxy, auth_request to a bare 204, auth_request to Portcullis /auth);
// Apache httpd, event MPM (mod_auth_openidc with the shm cache, with the Redis cache, and a plain
// proxy); and Portcullis three times (memory store, Redis store, `workers: auto` with Redis). It logs
// in once per authenticating target as a browser would, checks the cookie alone gets the upstream's
// 200, then for PEERS_ROUNDS rounds drives every target in turn with wrk (a check run that must see
// only 200s, then the measured run), times full logins against Apache (shm) and Portcullis (memory),
// prints one Markdown table of medians and writes bench/results/peers-<UTC stamp>.json.
//
// Environment: PEERS_CONNS (32), PEERS_DURATION (s, 5), PEERS_CHECK_DURATION (s, 1), PEERS_ROUNDS (3),
// PEERS_LOGINS (30), PEERS_PIN=1 (servers on PEERS_SERVER_CPUS, default 1; wrk, the login client and
// the in-process IdP on PEERS_CLIENT_CPUS, default 0), PEERS_RESULTS_DIR (bench/results),
// PEERS_CLUSTER_WORKERS (auto), PEERS_TIMEOUT (s, 1800), PEERS_KEEP_TMP=1 (keep the temp directory:
// configs and server logs).
// Every process it starts is stopped by pid at the end, on error, on Ctrl-C and after PEERS_TIMEOUT.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startLocalIdp, type LocalIdp } from '../../dev/local-idp.js';
import { freePort } from '../../test/support/free-port.js';
import { startRedisServer, type TestRedis } from '../../test/support/redis-server.js';
import { findBinary } from '../../test/support/services.js';
import {
  browserLogin,
  plainGet,
  timeLogins,
  verifySession,
  type LoginTarget,
  type LoginTiming,
} from './browser-login.js';
import { ProcessTable, type RunningProcess } from './processes.js';
import {
  APACHE_MODULES,
  APACHE_REDIRECT_PATH,
  apacheConfig,
  nginxProxyConfig,
  nginxTempDirs,
  nginxUpstreamConfig,
  UPSTREAM_BODY,
} from './server-configs.js';
import { renderTable, summarise, type Summary, type TargetResult } from './report.js';
import {
  parseStatusCheck,
  parseWrkOutput,
  STATUS_CHECK_LUA,
  wrkArguments,
  type StatusCheck,
  type WrkMeasurement,
} from './wrk.js';
import { benchGatewayConfig, buildGateway, gatewayEntryArgs } from '../gateway-setup.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function numberFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}`);
  return value;
}

function clusterWorkersFromEnv(): number | 'auto' {
  const raw = process.env.PEERS_CLUSTER_WORKERS;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  const workers = Number(raw);
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error('PEERS_CLUSTER_WORKERS must be auto or >= 1');
  return workers;
}

const settings = {
  connections: Math.round(numberFromEnv('PEERS_CONNS', 32, 1)),
  durationS: numberFromEnv('PEERS_DURATION', 5, 1),
  checkDurationS: numberFromEnv('PEERS_CHECK_DURATION', 1, 1),
  rounds: Math.round(numberFromEnv('PEERS_ROUNDS', 3, 1)),
  logins: Math.round(numberFromEnv('PEERS_LOGINS', 30, 1)),
  pinned: process.env.PEERS_PIN === '1',
  serverCpus: process.env.PEERS_SERVER_CPUS ?? '1',
  clientCpus: process.env.PEERS_CLIENT_CPUS ?? '0',
  /** `server.workers` of the cluster gateway: 'auto' (one per CPU it may run on) or a number. */
  clusterWorkers: clusterWorkersFromEnv(),
  timeoutS: numberFromEnv('PEERS_TIMEOUT', 1800, 10),
  keepTmp: process.env.PEERS_KEEP_TMP === '1',
  resultsDir: process.env.PEERS_RESULTS_DIR ?? join(root, 'bench', 'results'),
};

const APACHE_MODULES_DIR = '/usr/lib/apache2/modules';
const PREFIX = '/.portcullis';
const APACHE_CLIENT = { id: 'peers-apache', secret: randomBytes(24).toString('hex') };
const GATEWAY_CLIENT = { id: 'peers-portcullis', secret: randomBytes(24).toString('hex') };
const START_TIMEOUT_MS = 60_000;
/** Between two wrk runs, so one target's leftover sockets and GC do not land in the next one's figures. */
const PAUSE_BETWEEN_RUNS_MS = 500;

// ---------------------------------------------------------------------------------------------
// What must be installed

interface Binaries {
  apache2: string;
  nginx: string;
  wrk: string;
  redisServer: string;
  taskset: string | null;
}

/** A setup problem the message alone explains: printed without a stack. */
class MissingSoftware extends Error {}

/** Finds every binary and module, or fails naming the Debian packages that are missing. */
function findBinaries(): Binaries {
  const missing = new Map<string, string>(); // what -> Debian package
  const need = (name: string, debianPackage: string): string => {
    const path = findBinary(name);
    if (path === null) missing.set(name, debianPackage);
    return path ?? '';
  };
  const binaries: Binaries = {
    apache2: need('apache2', 'apache2'),
    nginx: need('nginx', 'nginx'),
    wrk: need('wrk', 'wrk'),
    redisServer: need('redis-server', 'redis-server'),
    taskset: settings.pinned ? need('taskset', 'util-linux') : findBinary('taskset'),
  };
  for (const [, file] of APACHE_MODULES) {
    const path = join(APACHE_MODULES_DIR, file);
    const debianPackage = file === 'mod_auth_openidc.so' ? 'libapache2-mod-auth-openidc' : 'apache2';
    if (!existsSync(path)) missing.set(path, debianPackage);
  }
  if (missing.size > 0) {
    const packages = [...new Set(missing.values())].join(' ');
    const what = [...missing].map(([name, pkg]) => `  ${name} (Debian package ${pkg})`).join('\n');
    throw new MissingSoftware(`missing:\n${what}\ninstall with: apt-get install ${packages}`);
  }
  return binaries;
}

// ---------------------------------------------------------------------------------------------
// Processes, temp files, clean-up

let binaries: Binaries;
// Undefined until main() has found the binaries: a Ctrl-C or an exit before then has nothing to stop.
let processes: ProcessTable | undefined;
let redis: TestRedis | undefined;
let idp: LocalIdp | undefined;
let workDir: string | undefined;

/**
 * `interrupted`: set by Ctrl-C and the overall timeout, so the failures that follow are the
 * clean-up's, not the run's. A property rather than a `let`: it is set in callbacks, which
 * TypeScript's flow analysis does not follow, so a `let` would read as always false after
 * `await main()`.
 */
const run = { interrupted: false };
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await processes?.stopAll();
    await Promise.allSettled([redis?.close(), idp?.close()]);
    if (workDir !== undefined) {
      if (settings.keepTmp) process.stderr.write(`peers: kept ${workDir}\n`);
      else rmSync(workDir, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

process.on('exit', () => processes?.killAllNow());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\npeers: ${signal}, stopping everything it started\n`);
    run.interrupted = true;
    void cleanup().finally(() => process.exit(130));
  });
}

function log(message: string): void {
  process.stderr.write(`peers: ${message}\n`);
}

/** The process table, for the steps of main() (all of which run after it is made). */
function processTable(): ProcessTable {
  if (processes === undefined) throw new Error('peers: no process table yet');
  return processes;
}

const serverCpus = (): string | undefined => (settings.pinned ? settings.serverCpus : undefined);
const clientCpus = (): string | undefined => (settings.pinned ? settings.clientCpus : undefined);

function runSync(program: string, args: string[]): { ok: boolean; output: string } {
  // Node leaves stdout and stderr null when the program could not be started (ENOENT), which
  // @types/node does not say; hence the wider type.
  const result: { status: number | null; stdout: string | null; stderr: string | null } = spawnSync(
    program,
    args,
    { encoding: 'utf8', timeout: 30_000 },
  );
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/** Pins a running process (every thread) to `cpus`. */
function pin(pid: number, cpuList: string, what: string): void {
  const result = runSync(binaries.taskset ?? 'taskset', ['-a', '-p', '-c', cpuList, String(pid)]);
  if (!result.ok) throw new Error(`could not pin ${what} (pid ${pid}) to CPU ${cpuList}: ${result.output}`);
}

/** Children of `parentPid` running `comm` (from /proc; Linux only). */
function childPidsNamed(parentPid: number, comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (stat.slice(open + 1, close) === comm && Number(fields[1]) === parentPid) pids.push(Number(entry));
  }
  return pids;
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Polls `ready` until it is true; fails early, with the server's output, if the process exits. */
async function waitUntil(
  server: RunningProcess,
  what: string,
  ready: () => Promise<boolean>,
  logFile?: string,
) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (!server.isRunning() || Date.now() > deadline) {
      const fileTail =
        logFile !== undefined && existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4_000) : '';
      const state = server.isRunning() ? `is not ready after ${START_TIMEOUT_MS / 1000} s` : 'exited';
      throw new Error(`${server.name} ${state} (waiting for ${what}):\n${server.output()}${fileTail}`);
    }
    await sleep(100);
  }
}

const answers200 = (url: string) => async () => (await plainGet(url)).status === 200;

function writeDir(path: string, mode: number): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  return path;
}

// ---------------------------------------------------------------------------------------------
// The servers

interface Ports {
  upstream: number;
  nginxPlain: number;
  nginxAuthFloor: number;
  nginxAllow: number;
  nginxPortcullis: number;
  apacheShm: number;
  apacheRedis: number;
  apachePlain: number;
  gatewayMemory: number;
  gatewayRedis: number;
  gatewayCluster: number;
}

async function allocatePorts(): Promise<Ports> {
  const names = [
    'upstream',
    'nginxPlain',
    'nginxAuthFloor',
    'nginxAllow',
    'nginxPortcullis',
    'apacheShm',
    'apacheRedis',
    'apachePlain',
    'gatewayMemory',
    'gatewayRedis',
    'gatewayCluster',
  ] as const;
  const ports: Partial<Record<(typeof names)[number], number>> = {};
  const taken = new Set<number>();
  for (const name of names) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports as Ports;
}

async function startNginx(name: string, dir: string, config: string, ports: number[]): Promise<void> {
  writeDir(dir, 0o755);
  for (const temp of nginxTempDirs(dir)) writeDir(temp, 0o777);
  const configFile = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'error.log');
  writeFileSync(configFile, config);
  const base = ['-p', `${dir}/`, '-c', configFile, '-e', errorLog];
  const test = runSync(binaries.nginx, ['-t', '-q', ...base]);
  if (!test.ok) throw new Error(`${name}: nginx refused its config ${configFile}:\n${test.output}`);
  const server = processTable().start(name, binaries.nginx, base, { cpus: serverCpus() });
  for (const port of ports) await waitUntil(server, `127.0.0.1:${port}`, () => listening(port), errorLog);
}

async function startApache(dir: string, ports: Ports, upstreamUrl: string): Promise<void> {
  // Started as root, Apache's children run as www-data: they must be able to reach the run directory.
  writeDir(dir, 0o755);
  writeDir(join(dir, 'run'), 0o777);
  const configFile = join(dir, 'httpd.conf');
  const errorLog = join(dir, 'error.log');
  if (idp === undefined || redis === undefined) throw new Error('the IdP and Redis start before Apache');
  writeFileSync(
    configFile,
    apacheConfig({
      dir,
      modulesDir: APACHE_MODULES_DIR,
      ports: { oidcShm: ports.apacheShm, oidcRedis: ports.apacheRedis, plain: ports.apachePlain },
      upstreamUrl,
      issuer: idp.issuer,
      clientId: APACHE_CLIENT.id,
      clientSecret: APACHE_CLIENT.secret,
      cryptoPassphrase: randomBytes(32).toString('hex'),
      redisAddress: `127.0.0.1:${redis.port}`,
      runAs: process.getuid?.() === 0 ? { user: 'www-data', group: 'www-data' } : null,
    }),
    { mode: 0o600 },
  );
  const base = ['-d', dir, '-f', configFile];
  const test = runSync(binaries.apache2, ['-t', ...base]);
  if (!test.ok) throw new Error(`apache: httpd refused its config ${configFile}:\n${test.output}`);
  const server = processTable().start('apache', binaries.apache2, [...base, '-DFOREGROUND'], {
    cpus: serverCpus(),
  });
  for (const port of [ports.apacheShm, ports.apacheRedis, ports.apachePlain]) {
    await waitUntil(server, `127.0.0.1:${port}`, () => listening(port), errorLog);
  }
}

interface GatewaySpec {
  name: 'memory' | 'redis' | 'cluster';
  port: number;
  store: 'memory' | 'redis';
  workers: number | 'auto';
  /** Hosts besides its own that a login may return to (the nginx in front of it). */
  allowedRedirectHosts: string[];
}

const gatewayPublicUrl = (port: number): string => `http://localhost:${port}`;

/** Started as bench/run.ts starts it: the real config loader, log level warn, no access log. */
async function startGateway(spec: GatewaySpec, dir: string, upstreamUrl: string): Promise<RunningProcess> {
  if (idp === undefined || redis === undefined)
    throw new Error('the IdP and Redis start before the gateways');
  writeDir(dir, 0o700);
  const session: Record<string, unknown> = { secret: randomBytes(32).toString('hex') };
  if (spec.store === 'redis') {
    session.store = 'redis';
    session.redis = { url: redis.url, keyPrefix: `peers-${spec.name}:` };
  }
  const config = benchGatewayConfig({
    port: spec.port,
    publicUrl: gatewayPublicUrl(spec.port),
    session,
    idpIssuer: idp.issuer,
    clientId: GATEWAY_CLIENT.id,
    clientSecret: GATEWAY_CLIENT.secret,
    upstreamUrl,
    dataDir: join(dir, 'data'),
    server: { allowedRedirectHosts: spec.allowedRedirectHosts, workers: spec.workers },
  });
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const server = processTable().start(
    `portcullis-${spec.name}`,
    process.execPath,
    gatewayEntryArgs(configFile),
    {
      cwd: root,
      env: { NODE_ENV: 'production' },
      cpus: serverCpus(),
    },
  );
  await waitUntil(server, '/public/ 200', answers200(`http://127.0.0.1:${spec.port}/public/ready`));
  return server;
}

// ---------------------------------------------------------------------------------------------
// Targets and measurements

interface Target {
  id: string;
  label: string;
  /** What wrk drives (always 127.0.0.1). */
  url: string;
  /** Authenticating targets: how to log in; the cookie is filled in after the login. */
  login?: LoginTarget;
  cookie?: string;
}

async function runWrk(target: Target, durationS: number, scriptFile?: string): Promise<string> {
  const args = wrkArguments({
    url: target.url,
    connections: settings.connections,
    durationS,
    cookie: target.cookie,
    scriptFile,
  });
  const wrk = processTable().start(`wrk ${target.id}`, binaries.wrk, args, { cpus: clientCpus() });
  const code = await wrk.exited;
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${wrk.output()}`);
  return wrk.output();
}

async function measureRound(target: Target, round: number, result: TargetResult, statusScript: string) {
  const checkOutput = await runWrk(target, settings.checkDurationS, statusScript);
  const check: StatusCheck | null = parseStatusCheck(checkOutput);
  if (check === null || check.responses === 0 || check.not200 > 0) {
    const seen =
      check === null
        ? `no status line: ${checkOutput.slice(-300)}`
        : `${check.not200} of ${check.responses} not 200 (first: ${check.firstOther})`;
    result.rounds.push({ round, check, measured: null, statusAfter: null, failure: `check run: ${seen}` });
    log(`round ${round}: ${target.id}: check run FAILED: ${seen}`);
    return;
  }
  const measured: WrkMeasurement = parseWrkOutput(await runWrk(target, settings.durationS));
  const after = await plainGet(target.url, target.cookie === undefined ? {} : { cookie: target.cookie });
  result.rounds.push({ round, check, measured, statusAfter: after.status, failure: null });
  log(
    `round ${round}: ${target.id}: ${Math.round(measured.requestsPerSecond)} req/s, ` +
      `p99 ${measured.p99Ms.toFixed(2)} ms${after.status === 200 ? '' : `, then ${after.status}`}`,
  );
}

function versionOf(program: string, args: string[], pattern: RegExp): string | null {
  const match = pattern.exec(runSync(program, args).output);
  return match?.[1] ?? null;
}

function softwareVersions(): Record<string, string | null> {
  return {
    node: process.version,
    nginx: versionOf(binaries.nginx, ['-v'], /nginx\/(\S+)/),
    apache: versionOf(binaries.apache2, ['-v'], /Apache\/(\S+)/),
    modAuthOpenidc: versionOf('dpkg-query', ['-W', '-f=${Version}', 'libapache2-mod-auth-openidc'], /^(\S+)/),
    redis: versionOf(binaries.redisServer, ['--version'], /v=(\S+)/),
    wrk: versionOf(binaries.wrk, ['-v'], /^wrk (\S+)/),
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  binaries = findBinaries();
  processes = new ProcessTable(binaries.taskset);
  // The login client and the in-process IdP belong to the client side; children inherit this.
  if (settings.pinned) pin(process.pid, settings.clientCpus, 'the benchmark process');

  workDir = mkdtempSync(join(tmpdir(), 'portcullis-peers-'));
  chmodSync(workDir, 0o755);
  const statusScript = join(workDir, 'status-check.lua');
  writeFileSync(statusScript, STATUS_CHECK_LUA);

  await buildGateway(root, log);
  const ports = await allocatePorts();
  const upstreamUrl = `http://127.0.0.1:${ports.upstream}`;
  log(`starting servers${settings.pinned ? ` (pinned: servers on CPU ${settings.serverCpus})` : ''}`);

  const nginxUpstreamDir = join(workDir, 'nginx-upstream');
  await startNginx(
    'nginx-upstream',
    nginxUpstreamDir,
    nginxUpstreamConfig(nginxUpstreamDir, ports.upstream),
    [ports.upstream],
  );
  const upstreamCheck = await plainGet(`${upstreamUrl}/`);
  if (upstreamCheck.status !== 200 || upstreamCheck.body !== UPSTREAM_BODY) {
    throw new Error(`the upstream answered ${upstreamCheck.status} ${upstreamCheck.body}`);
  }

  idp = await startLocalIdp({
    clients: [
      {
        client_id: APACHE_CLIENT.id,
        client_secret: APACHE_CLIENT.secret,
        redirect_uris: [ports.apacheShm, ports.apacheRedis].map(
          (port) => `http://127.0.0.1:${port}${APACHE_REDIRECT_PATH}`,
        ),
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: GATEWAY_CLIENT.id,
        client_secret: GATEWAY_CLIENT.secret,
        redirect_uris: [ports.gatewayMemory, ports.gatewayRedis, ports.gatewayCluster].map(
          (port) => `${gatewayPublicUrl(port)}${PREFIX}/callback/local`,
        ),
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  });

  redis = await startRedisServer();
  if (settings.pinned)
    for (const pid of childPidsNamed(process.pid, 'redis-server'))
      pin(pid, settings.serverCpus, 'redis-server');

  const nginxProxyDir = join(workDir, 'nginx-proxy');
  await startNginx(
    'nginx-proxy',
    nginxProxyDir,
    nginxProxyConfig({
      dir: nginxProxyDir,
      ports: {
        plain: ports.nginxPlain,
        authRequestFloor: ports.nginxAuthFloor,
        allow: ports.nginxAllow,
        portcullis: ports.nginxPortcullis,
      },
      upstreamPort: ports.upstream,
      gatewayPort: ports.gatewayMemory,
      gatewayPublicUrl: gatewayPublicUrl(ports.gatewayMemory),
      prefix: PREFIX,
    }),
    [ports.nginxPlain, ports.nginxAuthFloor, ports.nginxAllow, ports.nginxPortcullis],
  );
  await startApache(join(workDir, 'apache'), ports, upstreamUrl);

  const gateways: GatewaySpec[] = [
    {
      name: 'memory',
      port: ports.gatewayMemory,
      store: 'memory',
      workers: 1,
      allowedRedirectHosts: [`localhost:${ports.nginxPortcullis}`],
    },
    { name: 'redis', port: ports.gatewayRedis, store: 'redis', workers: 1, allowedRedirectHosts: [] },
    {
      name: 'cluster',
      port: ports.gatewayCluster,
      store: 'redis',
      workers: settings.clusterWorkers,
      allowedRedirectHosts: [],
    },
  ];
  const [, , clusterGateway] = await Promise.all(
    gateways.map((spec) =>
      startGateway(spec, join(workDir as string, `portcullis-${spec.name}`), upstreamUrl),
    ),
  );
  log('all servers up');

  const apacheLogin = (port: number): LoginTarget => ({
    startUrl: `http://127.0.0.1:${port}/app/`,
    // The IdP shares the host 127.0.0.1 (cookies ignore ports): keep only the RP's own session cookie.
    isSessionCookie: (name) => name.startsWith('mod_auth_openidc_session'),
    identityEcho: 'oidc_claim_sub=alice',
  });
  const portcullisLogin = (port: number): LoginTarget => ({
    startUrl: `${gatewayPublicUrl(port)}/app/`,
    isSessionCookie: () => true,
    identityEcho: 'x-auth-request-user=alice',
  });
  const on = (port: number, path = '/app/') => `http://127.0.0.1:${port}${path}`;
  const targets: Target[] = [
    { id: 'upstream', label: 'upstream direct (nginx, 1 worker, 20-byte body)', url: on(ports.upstream) },
    { id: 'nginx-proxy', label: 'nginx plain proxy', url: on(ports.nginxPlain) },
    { id: 'nginx-authreq-204', label: 'nginx auth_request → bare 204', url: on(ports.nginxAuthFloor) },
    { id: 'apache-proxy', label: 'Apache plain proxy', url: on(ports.apachePlain) },
    {
      id: 'apache-oidc-shm',
      label: 'Apache + mod_auth_openidc (shm cache)',
      url: on(ports.apacheShm),
      login: apacheLogin(ports.apacheShm),
    },
    {
      id: 'apache-oidc-redis',
      label: 'Apache + mod_auth_openidc (Redis cache)',
      url: on(ports.apacheRedis),
      login: apacheLogin(ports.apacheRedis),
    },
    {
      id: 'portcullis-public',
      label: 'Portcullis public route (memory gateway)',
      url: on(ports.gatewayMemory, '/public/'),
    },
    {
      id: 'portcullis-memory',
      label: 'Portcullis authenticated (memory)',
      url: on(ports.gatewayMemory),
      login: portcullisLogin(ports.gatewayMemory),
    },
    {
      id: 'portcullis-redis',
      label: 'Portcullis authenticated (Redis)',
      url: on(ports.gatewayRedis),
      login: portcullisLogin(ports.gatewayRedis),
    },
    {
      id: 'portcullis-cluster',
      label: 'Portcullis authenticated (cluster, Redis)', // + the worker count, once they are up
      url: on(ports.gatewayCluster),
      login: portcullisLogin(ports.gatewayCluster),
    },
    {
      id: 'nginx-authreq-portcullis',
      label: `nginx auth_request → Portcullis ${PREFIX}/auth (memory), authenticated`,
      url: on(ports.nginxPortcullis),
      login: portcullisLogin(ports.nginxPortcullis),
    },
  ];

  for (const target of targets) {
    if (target.login === undefined) continue;
    const login = await browserLogin(target.login);
    await verifySession(target.login, target.url, login.cookie);
    target.cookie = login.cookie;
    log(`logged in at ${target.id} (${login.requests} requests, ${login.ms.toFixed(1)} ms); cookie checked`);
  }

  // With `auto`, the gateway counts the CPUs it may run on: 1 when pinned to one CPU.
  const clusterTarget = targets.find((target) => target.id === 'portcullis-cluster') as Target;
  const workers = clusterGateway === undefined ? [] : childPidsNamed(clusterGateway.pid, 'node');
  clusterTarget.label = `Portcullis authenticated (cluster: workers ${settings.clusterWorkers} = ${Math.max(1, workers.length)}, Redis)`;

  const results = new Map<string, TargetResult>(
    targets.map((target) => [target.id, { id: target.id, label: target.label, url: target.url, rounds: [] }]),
  );
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      await measureRound(target, round, results.get(target.id) as TargetResult, statusScript);
      await sleep(PAUSE_BETWEEN_RUNS_MS);
    }
  }

  log(`timing ${settings.logins} logins each against Apache (shm) and Portcullis (memory)`);
  const logins: Record<'apache' | 'portcullis', LoginTiming> = {
    apache: await timeLogins(apacheLogin(ports.apacheShm), settings.logins),
    portcullis: await timeLogins(portcullisLogin(ports.gatewayMemory), settings.logins),
  };

  const summary: Summary = summarise([...results.values()], logins);
  const table = renderTable(summary);
  process.stdout.write(`\n${table}\n\n`);

  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  mkdirSync(settings.resultsDir, { recursive: true });
  const file = join(settings.resultsDir, `peers-${stamp}.json`);
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      platform: process.platform,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
    },
    software: softwareVersions(),
    loadGenerator: `wrk -t1 -c${settings.connections} -d${settings.durationS}s --latency`,
    settings,
    ...summary,
    table,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

const overall = setTimeout(() => {
  log(`still running after ${settings.timeoutS} s, giving up`);
  run.interrupted = true;
  void cleanup().finally(() => process.exit(1));
}, settings.timeoutS * 1000);
overall.unref();

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (error) {
  if (run.interrupted) {
    // Ctrl-C or the timeout stopped the processes under the run's feet: not a failure of its own.
    await cleanup();
    process.exit(130);
  }
  const detail =
    error instanceof MissingSoftware
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`bench:peers failed: ${detail}\n`);
  await cleanup();
  process.exit(1);
}
