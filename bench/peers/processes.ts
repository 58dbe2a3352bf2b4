// The peer benchmark's child processes. Each one is started in its own process group (so a server's
// workers go with it), optionally under `taskset -c <cpus>` (taskset execs the program, so the pid is
// the program's), remembered by pid, and stopped by that pid: never by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** CPU list for taskset, e.g. '1'; undefined runs the program unpinned. */
  cpus?: string | undefined;
  /** What asks the program to stop (default SIGTERM); SIGKILL to its group follows after the grace period. */
  stopSignal?: NodeJS.Signals;
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  /** The tail of stdout and stderr, interleaved. */
  output(): string;
  isRunning(): boolean;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
}

const OUTPUT_TAIL_CHARS = 16_000;
const STOP_GRACE_MS = 5_000;

interface Entry extends RunningProcess {
  readonly child: ChildProcess;
  readonly stopSignal: NodeJS.Signals;
}

export class ProcessTable {
  readonly #entries = new Set<Entry>();
  readonly #tasksetPath: string | null;

  /** `tasksetPath` is needed only when some process is started with `cpus`. */
  constructor(tasksetPath: string | null) {
    this.#tasksetPath = tasksetPath;
  }

  start(name: string, program: string, args: string[], options: StartOptions = {}): RunningProcess {
    let command = program;
    let argv = args;
    if (options.cpus !== undefined) {
      if (this.#tasksetPath === null) throw new Error(`cannot pin ${name}: taskset was not found`);
      command = this.#tasksetPath;
      argv = ['-c', options.cpus, program, ...args];
    }
    const child = spawn(command, argv, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${program}`);
    let tail = '';
    const collect = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => {
      // 'close', not 'exit': by then stdout and stderr are drained, so output() is complete.
      child.once('close', (code) => resolve(code));
      child.once('error', (error) => {
        collect(Buffer.from(`\n${error.message}\n`));
        resolve(null);
      });
    });
    const entry: Entry = {
      name,
      pid: child.pid,
      child,
      stopSignal: options.stopSignal ?? 'SIGTERM',
      output: () => tail,
      isRunning: () => child.exitCode === null && child.signalCode === null,
      exited,
    };
    this.#entries.add(entry);
    // A process that ended by itself is forgotten; its group may still need the final SIGKILL.
    void exited.then(() => {
      killGroup(entry.pid, 'SIGKILL');
      this.#entries.delete(entry);
    });
    return entry;
  }

  /** Asks the process to stop, waits up to the grace period, then kills whatever is left of its group. */
  async stop(process: RunningProcess): Promise<void> {
    const entry = [...this.#entries].find((candidate) => candidate === process);
    if (entry === undefined) return;
    if (entry.isRunning()) {
      entry.child.kill(entry.stopSignal);
      await Promise.race([entry.exited, sleep(STOP_GRACE_MS)]);
    }
    killGroup(entry.pid, 'SIGKILL');
    this.#entries.delete(entry);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#entries].map((entry) => this.stop(entry)));
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL to every group still recorded. */
  killAllNow(): void {
    for (const entry of this.#entries) killGroup(entry.pid, 'SIGKILL');
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
