// CI proof that `npm run bench` still runs: bench/run.ts in its quick mode (1 s per row, no cluster,
// no 100 k sessions) exits 0 and prints the table with every expected row and a numeric req/s.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '../support/services.js';

const redisBinary = requireBinary('redis-server', 'redis-server');

test(
  'bench/run.ts (quick) prints the benchmark table',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false, timeout: 90_000 },
  async () => {
    const resultsDir = mkdtempSync(join(tmpdir(), 'portcullis-bench-smoke-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts'], {
        env: {
          ...process.env,
          BENCH_QUICK: '1',
          BENCH_DURATION: '1',
          BENCH_WARMUP: '0.5',
          BENCH_CONNECTIONS: '8',
          BENCH_LOGIN_SECONDS: '1',
          BENCH_TIMEOUT: '80',
          BENCH_RESULTS_DIR: resultsDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.equal(code, 0, `bench exited with ${code}\n${stdout}\n${stderr}`);

      const rows = new Map<string, string[]>();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('| ') || line.startsWith('| row ')) continue;
        const cells = line.split('|').map((cell) => cell.trim());
        rows.set(cells[1] ?? '', cells.slice(2));
      }
      const expected = [
        'upstream direct',
        'public route (memory gateway)',
        'authenticated route (memory)',
        'forward-auth decision',
        'public route (Redis gateway)',
        'authenticated route (Redis)',
        'full login round trips',
      ];
      for (const prefix of expected) {
        const entry = [...rows].find(([name]) => name.startsWith(prefix));
        assert.ok(entry, `no row starting with '${prefix}' in:\n${stdout}`);
        const reqPerSecond = Number((entry[1][0] ?? '').replace(/,/g, ''));
        assert.ok(reqPerSecond > 0, `row '${entry[0]}' has no numeric req/s: ${entry[1][0]}`);
        const notes = entry[1][5] ?? '';
        assert.doesNotMatch(
          notes,
          /non-2xx|not 200|errors|timeouts/,
          `row '${entry[0]}' reports problems: ${notes}`,
        );
      }
      // wrk when it is installed, autocannon otherwise; the table says which.
      assert.match(stdout, /^\| row \(load: (wrk|autocannon) /m);
      assert.equal(readdirSync(resultsDir).filter((name) => name.endsWith('.json')).length, 1);
    } finally {
      rmSync(resultsDir, { recursive: true, force: true });
    }
  },
);
