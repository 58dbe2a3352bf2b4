#!/usr/bin/env node
// Runs test/**/*.test.ts files with node:test through tsx.
// Node 20's `--test` neither expands globs nor discovers .ts files, so the list is built here.
//
// Usage: node scripts/run-tests.mjs [--unit] [folder-or-file ...]   (default: test/)
//   Files under test/unit run first, all in ONE process (modules load once: seconds, not a minute),
//   with test/support/unit-guard.mjs refusing sockets and child processes; the other files then run
//   one process each, two or more at a time. --unit runs every file named the unit way.
//   npm run test:unit          test/unit: pure code, no sockets, no child processes
//   npm run test:integration   test/integration, test/security, test/contract: real servers and services
//   npm run test:e2e           test/e2e: a real browser (Debian's chromium)
//   npm test                   all of test/
//
// Environment:
//   PORTCULLIS_TEST_TIME_SCALE  multiplies every deadline (default 1; they also grow with the load average)
//   PORTCULLIS_TEST_CONCURRENCY how many test files run at once (default: the CPU count, 2 at least)
//
// No process outlives the run: every child a test starts is recorded (test/support/processes.ts) in a
// folder this script creates (PORTCULLIS_TEST_PID_DIR). The test files run in a process group of their
// own; on SIGINT/SIGTERM that group is ended, and at the end of the run, interrupted or not, whatever is
// still recorded is killed by PID (after checking its start time, so a reused PID is left alone).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => collect(join(path, name)));
}

const args = process.argv.slice(2);
const unitMode = args.includes('--unit');
const roots = args.filter((arg) => arg !== '--unit');
const files = (roots.length > 0 ? roots : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

// Per-test timeout: generous, since integration tests start servers; scaled like test/support/timing.ts.
const configuredScale = Number(process.env.PORTCULLIS_TEST_TIME_SCALE ?? '1');
const scale =
  (Number.isFinite(configuredScale) && configuredScale > 0 ? configuredScale : 1) *
  Math.max(1, (loadavg()[0] ?? 0) / availableParallelism());
const timeoutMs = Math.round(180_000 * scale);
const concurrency = Number(process.env.PORTCULLIS_TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));

const pidDir = mkdtempSync(join(tmpdir(), 'portcullis-test-pids-'));
const started = Date.now();

/** test/unit files run in one process (`--unit` makes every file named run that way). */
const isUnit = (file) => unitMode || /(^|[\\/])test[\\/]unit[\\/]/.test(resolve(file));
const phases = [
  { name: 'unit', oneProcess: true, files: files.filter(isUnit) },
  { name: 'per-file', oneProcess: false, files: files.filter((file) => !isUnit(file)) },
].filter((phase) => phase.files.length > 0);

function nodeArguments(phase) {
  if (!phase.oneProcess) {
    return [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${timeoutMs}`,
      ...phase.files,
    ];
  }
  // One process: node:test runs what the imported files register and reports like --test does;
  // the guard refuses sockets and child processes (test/unit is pure code).
  const entry = join(pidDir, 'unit-entry.mjs');
  writeFileSync(
    entry,
    phase.files.map((file) => `import ${JSON.stringify(pathToFileURL(resolve(file)).href)};\n`).join(''),
  );
  return ['--import', 'tsx', '--import', './test/support/unit-guard.mjs', entry];
}

function startTimeOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Kills every process group still recorded in the PID folder whose leader is the process recorded. */
function sweep() {
  const left = [];
  let entries = [];
  try {
    entries = readdirSync(pidDir);
  } catch {
    return left;
  }
  for (const entry of entries) {
    let record;
    try {
      record = JSON.parse(readFileSync(join(pidDir, entry), 'utf8'));
    } catch {
      continue;
    }
    const alive = record.startTime !== undefined && startTimeOf(record.pid) === record.startTime;
    if (alive) {
      killGroup(record.pid, 'SIGKILL');
      left.push(`${record.name} (pid ${record.pid}: ${record.command})`);
    }
  }
  return left;
}

function finish(code) {
  const left = sweep();
  rmSync(pidDir, { recursive: true, force: true });
  if (left.length > 0) {
    console.error(
      `run-tests: killed ${left.length} process(es) the tests had not stopped:\n  ${left.join('\n  ')}`,
    );
  }
  console.error(`run-tests: ${files.length} file(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(code);
}

let runner;
let interrupted;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted !== undefined) return;
    interrupted = signal;
    console.error(`\nrun-tests: ${signal}: stopping the test files and everything they started`);
    if (runner !== undefined) killGroup(runner.pid, 'SIGTERM');
    // Test files get a moment to stop what they started themselves; then the group is killed.
    setTimeout(() => {
      if (runner !== undefined) killGroup(runner.pid, 'SIGKILL');
      finish(signal === 'SIGINT' ? 130 : 143);
    }, 5_000).unref();
  });
}

/** Runs one phase in its own process group; resolves with its exit code. */
function runPhase(phase) {
  return new Promise((resolvePhase) => {
    const child = spawn(process.execPath, nodeArguments(phase), {
      stdio: 'inherit',
      // Its own process group: the test files' processes can be ended together, by the group's id.
      detached: true,
      env: { ...process.env, PORTCULLIS_TEST_PID_DIR: pidDir },
    });
    runner = child;
    // Without --test there is no per-test timeout: a hung one-process run is ended as a whole.
    const watchdog = phase.oneProcess
      ? setTimeout(() => {
          console.error(`run-tests: the ${phase.name} run took longer than ${timeoutMs} ms; stopping it`);
          killGroup(child.pid, 'SIGKILL');
        }, timeoutMs)
      : undefined;
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (interrupted !== undefined) {
        // The test files got SIGTERM with the runner: a moment to stop what they started, then the rest goes.
        setTimeout(() => {
          killGroup(child.pid, 'SIGKILL');
          finish(interrupted === 'SIGINT' ? 130 : 143);
        }, 2_000);
        return;
      }
      // A test file still running after its runner ended would still be in the group.
      killGroup(child.pid, 'SIGKILL');
      resolvePhase(code ?? (signal === null ? 1 : 128));
    });
  });
}

let exitCode = 0;
for (const phase of phases) {
  const code = await runPhase(phase);
  if (code !== 0) exitCode = code;
}
finish(exitCode);
