// A whole Portcullis stack on loopback for integration tests: the local OIDC provider, the echo app
// and a gateway configured through the real config loader, each on a free port.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { startLocalIdp, type LocalIdp, type LocalIdpClient, type LocalIdpUser } from '../../dev/local-idp.js';
import { startGateway, type RunningGateway } from '../../src/app/server.js';
import { formatIssues, parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { freePort } from './free-port.js';

export const CLIENT_ID = 'portcullis-test';
export const CLIENT_SECRET = 'portcullis-test-secret';

/** Log lines a gateway wrote, for asserting what is (and is not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== ''),
    );
    callback();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface GatewayInstance {
  gateway: RunningGateway;
  config: Config;
  logs: LogCapture;
  close(): Promise<void>;
}

/** Starts a gateway from a raw config object (as a user would write it), through the real loader. */
export async function startGatewayFromRaw(
  raw: Record<string, unknown>,
  port?: number,
): Promise<GatewayInstance> {
  const parsed = parseConfigText(JSON.stringify(raw), {
    env: process.env,
    baseDir: process.cwd(),
    source: 'test',
  });
  if (!parsed.ok) throw new Error(`test config refused:\n${formatIssues(parsed.error)}`);
  const logs = new LogCapture();
  const config = parsed.value.config;
  const gateway = await startGateway(config, {
    log: createLogger({ level: 'debug', destination: logs }),
    listen: { host: '127.0.0.1', port: port ?? 0 },
  });
  return { gateway, config, logs, close: () => gateway.close(500) };
}

/**
 * A gateway whose routes are all public, with an IdP that is never called, in its own data folder:
 * for tests of the proxying itself. close() removes the folder too.
 */
export async function startPublicGateway(routes: Array<Record<string, unknown>>): Promise<GatewayInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-public-'));
  const instance = await startGatewayFromRaw({
    server: { publicUrl: 'http://localhost:8080' },
    session: { secret: randomBytes(32).toString('hex') },
    providers: [
      { id: 'p', type: 'oidc', issuer: 'https://idp.example.invalid', clientId: 'x', clientSecret: 'y' },
    ],
    routes: routes.map((route) => ({ public: true, ...route })),
    roles: { admin: { groups: ['admins'] } },
    storage: { dataDir },
  }).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...instance,
    async close() {
      await instance.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface StackOptions {
  store?: 'memory' | 'redis';
  redisUrl?: string;
  /** Shared by every gateway of one test that must accept each other's cookies. */
  sessionSecret?: string;
  /** Merged over the provider entry. */
  provider?: Record<string, unknown>;
  /** Replaces the default routes (which point at the echo app). */
  routes?: (echoUrl: string) => Array<Record<string, unknown>>;
  /** Replaces the local IdP's client registration. */
  idpClient?: (callbackUrl: string, loggedOutUrl: string) => LocalIdpClient;
  /** Replaces the local IdP's users (default: alice and bob). */
  idpUsers?: LocalIdpUser[];
  /** Reuse a storage folder (the directory database) from an earlier stack; not removed on close. */
  dataDir?: string;
  /** Deep-merged into the raw config last. */
  extra?: Record<string, unknown>;
}

export interface Stack {
  idp: LocalIdp;
  echo: EchoApp;
  primary: GatewayInstance;
  publicUrl: string;
  rawConfig: Record<string, unknown>;
  /** Another gateway on its own port with the same config (a second replica). */
  startReplica(): Promise<GatewayInstance>;
  close(): Promise<void>;
}

export function defaultRoutes(echoUrl: string): Array<Record<string, unknown>> {
  return [
    { id: 'admins', path: '/admins/', upstream: echoUrl, allow: { groups: ['admins'] } },
    { id: 'public', path: '/public/', upstream: echoUrl, public: true },
    { id: 'by-email', path: '/by-email/', upstream: echoUrl, allow: { emails: ['Bob@Example.com'] } },
    { id: 'by-domain', path: '/by-domain/', upstream: echoUrl, allow: { emailDomains: ['example.com'] } },
    { id: 'nobody', path: '/nobody/', upstream: echoUrl, allow: { groups: ['no-such-group'] } },
    { id: 'app', path: '/', upstream: echoUrl, allow: { authenticated: true } },
  ];
}

/** freePort() releases its port before the gateway binds it: another process may take it first. */
const STACK_START_ATTEMPTS = 3;

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startStackOnce(options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= STACK_START_ATTEMPTS) throw err;
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const port = await freePort();
  // localhost for the gateway, 127.0.0.1 for the IdP: separate cookie jars, as on separate hosts.
  const publicUrl = `http://localhost:${port}`;
  const callbackUrl = `${publicUrl}/.portcullis/callback/local`;
  const loggedOutUrl = `${publicUrl}/.portcullis/logged-out`;
  const idp = await startLocalIdp({
    ...(options.idpUsers === undefined ? {} : { users: options.idpUsers }),
    clients: [
      options.idpClient?.(callbackUrl, loggedOutUrl) ?? {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [callbackUrl],
        post_logout_redirect_uris: [loggedOutUrl],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  });
  const echo = await startEchoApp({
    jwksUrl: `http://127.0.0.1:${port}/.portcullis/jwks.json`,
    expectedIssuer: publicUrl,
  });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const session: Record<string, unknown> = {
    secret: options.sessionSecret ?? randomBytes(32).toString('hex'),
  };
  if (options.store === 'redis') {
    session.store = 'redis';
    session.redis = { url: options.redisUrl, keyPrefix: `t${randomBytes(4).toString('hex')}:` };
  }
  const rawConfig: Record<string, unknown> = deepMerge(
    {
      server: { listen: `127.0.0.1:${port}`, publicUrl },
      session,
      providers: [
        {
          id: 'local',
          type: 'oidc',
          displayName: 'Local IdP',
          issuer: idp.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          scopes: ['openid', 'profile', 'email', 'groups'],
          claims: { username: 'preferred_username' },
          insecureAllowHttpIssuer: true,
          ...options.provider,
        },
      ],
      routes: (options.routes ?? defaultRoutes)(echo.url),
      roles: { admin: { groups: ['admins'] } },
      storage: { dataDir },
      log: { level: 'debug' },
    },
    options.extra ?? {},
  );
  let primary: GatewayInstance;
  try {
    primary = await startGatewayFromRaw(rawConfig, port);
  } catch (err) {
    await Promise.allSettled([echo.close(), idp.close()]);
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const replicas: GatewayInstance[] = [];
  return {
    idp,
    echo,
    primary,
    publicUrl,
    rawConfig,
    async startReplica() {
      const replica = await startGatewayFromRaw(rawConfig);
      replicas.push(replica);
      return replica;
    },
    async close() {
      await Promise.allSettled([
        primary.close(),
        ...replicas.map((r) => r.close()),
        echo.close(),
        idp.close(),
      ]);
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
