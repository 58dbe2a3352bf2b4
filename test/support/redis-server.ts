import { createConnection } from 'node:net';
import { freePort } from './free-port.js';
import { startProcess } from './processes.js';
import { findBinary } from './services.js';
import { waitUntil } from './timing.js';

export interface TestRedis {
  url: string;
  port: number;
  close(): Promise<void>;
}

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

/** One redis-server on a free port, once PING answers; rejects with its output if it exits first. */
async function startOnce(binary: string): Promise<TestRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const redis = startProcess('redis-server', binary, args, { keepOutputChars: MAX_LOG_CHARS });
  try {
    await waitUntil(() => pingRedis(port), {
      what: `redis-server to answer PING on 127.0.0.1:${port}`,
      failFast: () =>
        redis.hasExited() ? `redis-server exited during startup:\n${redis.output()}` : undefined,
      detail: redis.output,
    });
  } catch (error) {
    await redis.stop();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= redis.stop({ graceMs: KILL_GRACE_MS }).then(() => undefined);
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
