import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { findBinary } from './services.js';

export interface TestRedis {
  url: string;
  port: number;
  close(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 10_000;
const PROBE_INTERVAL_MS = 50;
const KILL_GRACE_MS = 2_000;
/** freePort() releases the port before redis binds it, so another process may win the race. */
const START_ATTEMPTS = 3;
/** Keeps only the tail of the child's output: enough to explain a failed start. */
const MAX_LOG_CHARS = 4_000;

/** Sends an inline PING over a raw socket; true once the server replies +PONG. */
export function pingRedis(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    const finish = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // A loading server answers -LOADING; anything but +PONG means "not ready yet".
      if (received.includes('\r\n')) finish(received.startsWith('+PONG'));
    });
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL if the child is still alive after the grace period. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  const escalation = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  await exited;
  clearTimeout(escalation);
}

function spawnRedis(binary: string, port: number): { child: ChildProcess; output: () => string } {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const collect = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, output: () => log };
}

/** Resolves once PING answers; rejects with the child's output if it exits or never becomes ready. */
async function waitUntilReady(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`redis-server could not be started: ${spawnError.message}`);
    if (hasExited(child)) {
      throw new Error(`redis-server exited during startup (code ${child.exitCode}):\n${output()}`);
    }
    if (await pingRedis(port)) return;
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(
    `redis-server did not answer PING on 127.0.0.1:${port} within ${STARTUP_TIMEOUT_MS} ms:\n${output()}`,
  );
}

async function startOnce(binary: string): Promise<TestRedis> {
  const port = await freePort();
  const { child, output } = spawnRedis(binary, port);
  // If the test process dies without calling close(), do not leave an orphaned redis behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  try {
    await waitUntilReady(child, port, output);
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await stopChild(child);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= stopChild(child).finally(() => process.removeListener('exit', killOnExit));
      return closing;
    },
  };
}

/**
 * Starts a private, non-persistent redis-server on a free port of 127.0.0.1.
 * Callers check requireBinary('redis-server', 'redis-server') first; this throws if it is missing.
 */
export async function startRedisServer(): Promise<TestRedis> {
  const binary = findBinary('redis-server');
  if (binary === null) {
    throw new Error("redis-server binary not found; install the Debian package 'redis-server'");
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(binary);
    } catch (error) {
      lastError = error;
      const portTaken = error instanceof Error && /address already in use/i.test(error.message);
      if (!portTaken) break;
    }
  }
  throw lastError;
}
