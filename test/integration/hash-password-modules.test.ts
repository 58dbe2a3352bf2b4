// `portcullis hash-password` prints a hash without loading the gateway: no Redis client, no rate
// limiter, no session store or express-session. Checked on the real command (src/main.ts, as
// `npm run portcullis` runs it) with a module trace (test/support/module-trace.mjs), and the trace is
// first shown to catch those modules when an entry point does load them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { verify } from '@node-rs/argon2';
import { startProcess } from '../support/processes.js';
import { scaled } from '../support/timing.js';

/** What printing a hash must never load: the Redis clients, the limiter, the session stack. */
const FORBIDDEN: ReadonlyArray<[string, RegExp]> = [
  ['ioredis', /\/node_modules\/ioredis\//],
  ['rate-limiter-flexible', /\/node_modules\/rate-limiter-flexible\//],
  ['connect-redis', /\/node_modules\/connect-redis\//],
  ['express-session', /\/node_modules\/express-session\//],
  ['src/session/', /\/src\/session\//],
  ['the break-glass rate limits', /\/src\/login\/break-glass\/rate-limits\.ts$/],
];

const CHILD_TIMEOUT_MS = 60_000;
const tmp = mkdtempSync(join(tmpdir(), 'portcullis-module-trace-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let runs = 0;

/** Runs `node --import tsx --import module-trace.mjs ...args` from the repository root; returns what it loaded. */
async function traced(
  args: readonly string[],
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const traceFile = join(tmp, `trace-${++runs}.txt`);
  const child = startProcess(
    `node ${args.join(' ')}`,
    process.execPath,
    ['--import', 'tsx', '--import', './test/support/module-trace.mjs', ...args],
    { env: { PORTCULLIS_MODULE_TRACE: traceFile }, stdin: 'pipe' },
  );
  child.child.stdin?.end(stdin);
  // A run that hangs fails, after a budget that allows for a busy machine.
  const timer = setTimeout(() => void child.stop({ signal: 'SIGKILL' }), scaled(CHILD_TIMEOUT_MS));
  const { code } = await child.exited;
  clearTimeout(timer);
  const loaded = readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
  return { code, stdout: child.stdout(), stderr: child.stderr(), loaded };
}

function forbiddenIn(loaded: readonly string[]): string[] {
  return FORBIDDEN.filter(([, pattern]) => loaded.some((url) => pattern.test(url))).map(([name]) => name);
}

describe('portcullis hash-password loads no Redis client and no session store', () => {
  test('the trace catches them where they are loaded (the session backends, the rate limits)', async () => {
    const backends = await traced(['src/session/stores/create-backend.ts'], '');
    assert.equal(backends.code, 0, backends.stderr);
    const limits = await traced(['src/login/break-glass/rate-limits.ts'], '');
    assert.equal(limits.code, 0, limits.stderr);
    const caught = new Set([...forbiddenIn(backends.loaded), ...forbiddenIn(limits.loaded)]);
    for (const name of [
      'ioredis',
      'rate-limiter-flexible',
      'connect-redis',
      'express-session',
      'src/session/',
    ]) {
      assert.ok(caught.has(name), `the trace should see ${name}`);
    }
  });

  test('printing a hash loads the hashing module and argon2, nothing of the gateway', async () => {
    const run = await traced(['src/main.ts', 'hash-password'], 'correct horse\n');
    assert.equal(run.code, 0, run.stderr);
    const printed = run.stdout.trim();
    assert.match(printed, /^\$argon2id\$/);
    assert.ok(await verify(printed, 'correct horse'));
    assert.ok(
      run.loaded.some((url) => url.endsWith('/src/login/break-glass/password-hashing.ts')),
      'the trace saw the hashing module',
    );
    assert.ok(
      run.loaded.some((url) => url.includes('/node_modules/@node-rs/argon2')),
      'the trace saw argon2',
    );
    assert.deepEqual(forbiddenIn(run.loaded), [], run.loaded.join('\n'));
  });
});
