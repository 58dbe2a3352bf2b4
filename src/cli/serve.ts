// `portcullis [serve] --config FILE`: load, validate (refuse to start on any error), serve, drain on
// SIGTERM. With server.workers > 1 the primary process prepares shared state once, then runs one
// worker per slot; the workers share the listening port (node:cluster) and the Redis session store.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { loadSigningKeys } from '../assertion/signing-keys.js';
import { startGateway } from '../app/server.js';
import { formatIssues, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { openDirectory } from '../directory/open-directory.js';
import { registrationFor } from './registration.js';
import { createLogger, type Logger } from '../observability/logger.js';

export async function runServe(file: string): Promise<number> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(
      `portcullis: ${file}: configuration refused, not starting:\n${formatIssues(loaded.error)}\n`,
    );
    return 1;
  }
  const { config, warnings } = loaded.value;
  const log = createLogger({ level: config.log.level });
  const workers = config.server.workers === 'auto' ? availableParallelism() : config.server.workers;
  if (cluster.isPrimary) for (const warning of warnings) log.warn({ key: warning.path }, warning.message);
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers, log);
  return runWorker(config, log);
}

async function runWorker(config: Config, log: Logger): Promise<number> {
  const gateway = await startGateway(config, { log });
  log.info(
    { listen: config.server.listen, publicUrl: config.server.publicUrl, pid: process.pid },
    'portcullis listening',
  );
  if (cluster.isPrimary) {
    for (const provider of config.providers) {
      log.info(
        { provider: provider.id, ...registrationFor(provider, config) },
        'register these at the identity provider',
      );
    }
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'draining in-flight requests');
      gateway.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopped');
  log.flush();
  // A worker's IPC channel to the primary would keep it alive after the drain.
  cluster.worker?.disconnect();
  return 0;
}

/** Workers dying this often right after each other mean they cannot start (port taken, bad store): give up. */
const MAX_RAPID_DEATHS = 5;
const RAPID_DEATH_WINDOW_MS = 60_000;

async function runPrimary(config: Config, workers: number, log: Logger): Promise<number> {
  // Generated keys and migrations are made once here, so workers never race to create them.
  await loadSigningKeys(config.assertion, config.storage.dataDir, systemClock);
  await (await openDirectory(config.storage)).close();

  let stopping = false;
  let failed = false;
  let deaths: number[] = [];
  const fork = () => cluster.fork();
  const stopAll = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  // Node passes a null code when a signal killed the worker and a null signal when it exited by
  // itself; @types/node types them number and string, so the listener says what really comes.
  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    if (stopping) {
      if (code !== 0 && signal === null) failed = true;
      return;
    }
    const now = Date.now();
    deaths = [...deaths.filter((at) => now - at < RAPID_DEATH_WINDOW_MS), now];
    if (deaths.length >= MAX_RAPID_DEATHS) {
      log.fatal({ deaths: deaths.length }, 'workers keep dying; stopping');
      failed = true;
      stopping = true;
      stopAll();
      process.emit('SIGTERM');
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  for (let i = 0; i < workers; i += 1) fork();
  log.info({ workers }, 'portcullis primary started its workers');

  // Resolves, once every worker is gone, with whether one failed. (`failed` is set in the
  // listeners above; read after this await, TypeScript would take it for its initial false.)
  const someWorkerFailed = await new Promise<boolean>((resolve) => {
    const stop = (signal: string) => {
      stopping = true;
      log.info({ signal }, 'stopping workers');
      stopAll();
      const check = () =>
        Object.keys(cluster.workers ?? {}).length === 0 ? resolve(failed) : setTimeout(check, 100);
      check();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.flush();
  return someWorkerFailed ? 1 : 0;
}
