// A PostgreSQL database for one test file: a fresh database on the machine's server when one answers on
// 127.0.0.1:5432, else a private throwaway cluster started from the installed binaries.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';
import { onProcessCleanup } from './processes.js';
import { findBinary } from './services.js';
import { scaled } from './timing.js';

export interface TestPostgres {
  url: string;
  close(): Promise<void>;
}

const run = promisify(execFile);
const MACHINE_SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const CONNECT_TIMEOUT_MS = 5_000;
const START_TIMEOUT_MS = 60_000;
/** freePort() releases the port before postgres binds it, so another process may win the race. */
const START_ATTEMPTS = 3;
const MISSING = 'PostgreSQL not found: apt-get install postgresql';

export async function startTestPostgres(): Promise<TestPostgres | { skip: string }> {
  const onMachineServer = await createDatabaseOnMachineServer();
  if (onMachineServer !== null) return onMachineServer;
  const initdb = findBinary('initdb');
  const pgCtl = findBinary('pg_ctl');
  if (initdb !== null && pgCtl !== null) return startPrivateCluster(initdb, pgCtl);
  // A CI image without PostgreSQL must fail, not skip the suite silently.
  if (process.env['CI'] === 'true') throw new Error(`CI=true requires PostgreSQL: ${MISSING}`);
  return { skip: MISSING };
}

/** Null when no server answers there or it refuses the trust login; the caller then starts a private one. */
export async function createDatabaseOnMachineServer(): Promise<TestPostgres | null> {
  const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ ...MACHINE_SERVER, connectionTimeoutMillis: scaled(CONNECT_TIMEOUT_MS) });
    client.on('error', () => {}); // a dropped connection surfaces as a failed query instead
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  try {
    await admin((client) => client.query(`create database ${name}`));
  } catch {
    return null;
  }
  const { host, port, user } = MACHINE_SERVER;
  return {
    url: `postgres://${user}@${host}:${port}/${name}`,
    async close() {
      // FORCE (PostgreSQL 13+): a connection a failed test left open must not keep the database alive.
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/**
 * initdb + pg_ctl in a temp dir, on a free port of 127.0.0.1, fsync off. initdb refuses to run as root,
 * so as root the cluster runs as the postgres user (runuser) in a folder that user owns.
 */
export async function startPrivateCluster(initdb: string, pgCtl: string): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pg-'));
  const asPostgres = asPostgresUser(dir);
  const dataDir = join(dir, 'data');
  const stop = (mode: 'fast' | 'immediate'): void => {
    try {
      execFileSync(...asPostgres(pgCtl, ['-D', dataDir, '-m', mode, '-w', 'stop']), { stdio: 'ignore' });
    } catch {
      // Not running (never started, or already stopped).
    }
  };
  // If the test process dies or is interrupted without calling close(), do not leave a postmaster behind.
  let forgetCleanup = (): void => {};
  try {
    await run(
      ...asPostgres(initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']),
    );
    forgetCleanup = onProcessCleanup(() => stop('immediate'));
    const port = await startOnFreePort(pgCtl, dataDir, dir, asPostgres);
    let closing: Promise<void> | undefined;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      close() {
        closing ??= Promise.resolve().then(() => {
          stop('fast');
          forgetCleanup();
          rmSync(dir, { recursive: true, force: true });
        });
        return closing;
      },
    };
  } catch (error) {
    stop('immediate');
    forgetCleanup();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

type Command = [file: string, args: string[]];

/** As root: hand the folder to postgres and run every command through runuser. Otherwise run as we are. */
function asPostgresUser(dir: string): (file: string, args: string[]) => Command {
  if (process.getuid?.() !== 0) return (file, args) => [file, args];
  const runuser = findBinary('runuser');
  if (runuser === null)
    throw new Error('running as root needs runuser to start PostgreSQL as the postgres user');
  chmodSync(dir, 0o755);
  execFileSync('chown', ['postgres:', dir]);
  return (file, args) => [runuser, ['-u', 'postgres', '--', file, ...args]];
}

async function startOnFreePort(
  pgCtl: string,
  dataDir: string,
  socketDir: string,
  asPostgres: (file: string, args: string[]) => Command,
): Promise<number> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    const log = join(socketDir, 'postgres.log');
    const args = [
      '-D',
      dataDir,
      '-l',
      log,
      '-w',
      '-t',
      String(Math.ceil(scaled(START_TIMEOUT_MS) / 1000)),
      '-o',
      options,
      'start',
    ];
    try {
      await run(...asPostgres(pgCtl, args));
      return port;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`PostgreSQL did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}
