// Runs the real entry point (`node --import tsx src/main.ts ...`) as a user would, to its end.
import { fileURLToPath } from 'node:url';
import { startProcess } from './processes.js';
import { scaled, STARTUP_MS } from './timing.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to the environment; PORTCULLIS_CONFIG is dropped unless given here. */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  stdin?: string;
  /** Sent SIGTERM once the output so far matches (for `serve`, which does not end by itself). */
  until?: RegExp;
}

/** Runs `portcullis <args>` and resolves with its exit code and output; killed if it outlives the budget. */
export async function runPortcullis(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { PORTCULLIS_CONFIG: undefined, ...options.env };
  let seen = '';
  const cli = startProcess(
    `portcullis ${args.join(' ')}`,
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', ...args],
    {
      cwd: REPO,
      env,
      stdin: options.stdin === undefined ? 'ignore' : 'pipe',
      onOutput: (text) => {
        seen += text;
        if (options.until?.test(seen) === true) void cli.stop();
      },
    },
  );
  cli.child.stdin?.end(options.stdin);
  // A run that hangs is a failure, but only after a budget that allows for a busy machine.
  const timer = setTimeout(() => void cli.stop({ signal: 'SIGKILL' }), scaled(STARTUP_MS));
  const { code } = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
