// Every child process a test starts is started here, so that none outlives the test:
//
// - it leads its own process group (`detached`), so what it starts in turn (php -S workers, cluster
//   workers) is stopped with it, by the group's id;
// - it is recorded by PID while it runs; stop() ends it (SIGTERM to the group, SIGKILL after a grace
//   period), and whatever is still recorded is killed when this process exits, is interrupted
//   (SIGINT, SIGTERM, SIGHUP) or finds its parent (the test runner) gone;
// - with PORTCULLIS_TEST_PID_DIR set (scripts/run-tests.mjs sets it), each PID is also written
//   there with its start time, so the runner can kill what a test file left behind even when that
//   file's process was itself killed (SIGKILL, a crash). The start time guards against PID reuse.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaled, STOP_GRACE_MS } from './timing.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  cwd?: string;
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** stdin of the child: closed ('ignore', the default) or a pipe to write to. */
  stdin?: 'ignore' | 'pipe';
  /** Called with each chunk of stdout and stderr as it arrives. */
  onOutput?: (text: string) => void;
  /** How much of the output output() keeps (the tail); default 16 000 characters. */
  keepOutputChars?: number;
}

export interface StartedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The tail of stdout and stderr, interleaved as they arrived. */
  readonly output: () => string;
  /** The tail of stdout alone. */
  readonly stdout: () => string;
  /** The tail of stderr alone. */
  readonly stderr: () => string;
  readonly hasExited: () => boolean;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Ends the process and its group: `signal` (SIGTERM) first, SIGKILL after the grace period. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ExitStatus>;
}

const running = new Map<number, StartedProcess>();
const cleanups = new Set<() => void>();
let hooksInstalled = false;

function pidDir(): string | undefined {
  const dir = process.env['PORTCULLIS_TEST_PID_DIR'];
  return dir === undefined || dir === '' ? undefined : dir;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** PIDs of the live processes in process group `pgid` (Linux /proc; empty elsewhere). */
function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state (Z: a zombie, already dead), fields[2] the process group.
      if (fields[2] === String(pgid) && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** SIGKILL to every recorded group and every registered cleanup: synchronous, for exit and signals. */
function killEverythingNow(): void {
  for (const started of running.values()) signalGroup(started.pid, 'SIGKILL');
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort: the process is ending
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killEverythingNow();
      // If nobody else handles the signal, do what it would have done without this handler.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
  // The runner gone (killed): this file's process now belongs to init. Stop everything and leave.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      killEverythingNow();
      process.exit(1);
    }
  }, 1_000).unref();
}

/**
 * A synchronous last-resort cleanup (stop a daemon by its tool, say) run when this process exits
 * or is interrupted. Returns a function that unregisters it, for the normal path.
 */
export function onProcessCleanup(cleanup: () => void): () => void {
  installHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Starts `command` in its own process group, recorded until it exits. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: StartOptions = {},
): StartedProcess {
  installHooks();
  const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe'];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio,
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) {
    // spawn failed (ENOENT, EACCES): the 'error' event carries the reason.
    throw new Error(`${name}: could not start ${command}`);
  }
  const keep = options.keepOutputChars ?? 16_000;
  let log = '';
  let stdout = '';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    log = (log + text).slice(-keep);
    options.onOutput?.(text);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString('utf8')).slice(-keep);
    collect(chunk);
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-keep);
    collect(chunk);
  });
  child.on('error', (error) => collect(Buffer.from(`\n[${name}: ${error.message}]\n`)));

  const ledger = pidDir();
  const ledgerFile = ledger === undefined ? undefined : join(ledger, String(pid));
  if (ledgerFile !== undefined) {
    const record = { pid, startTime: processStartTime(pid), name, command, parent: process.pid };
    try {
      writeFileSync(ledgerFile, JSON.stringify(record));
    } catch {
      // the runner's folder is gone: the in-process hooks still apply
    }
  }

  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(pid);
      // The leader is gone; anything left of its group (workers) goes now, while the id is ours.
      if (groupMembers(pid).length > 0) signalGroup(pid, 'SIGKILL');
      if (ledgerFile !== undefined) rmSync(ledgerFile, { force: true });
      // 'close' comes once the output is read to its end; a descendant that escaped the group and
      // kept the pipes open must not make the wait endless.
      const settle = (): void => {
        resolve({ code, signal });
      };
      child.once('close', settle);
      setTimeout(settle, 2_000).unref();
    });
  });
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;

  let stopping: Promise<ExitStatus> | undefined;
  const started: StartedProcess = {
    name,
    child,
    pid,
    output: () => log,
    stdout: () => stdout,
    stderr: () => stderr,
    hasExited,
    exited,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        if (!hasExited()) {
          signalGroup(pid, stopOptions.signal ?? 'SIGTERM');
          const escalation = setTimeout(
            () => signalGroup(pid, 'SIGKILL'),
            scaled(stopOptions.graceMs ?? STOP_GRACE_MS),
          );
          const status = await exited;
          clearTimeout(escalation);
          return status;
        }
        return exited;
      })();
      return stopping;
    },
  };
  running.set(pid, started);
  return started;
}

/** Stops every process this file started that is still running (for an `after` hook). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.allSettled([...running.values()].map((started) => started.stop()));
}
