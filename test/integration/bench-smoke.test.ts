// CI proof that `npm run bench` still runs: bench/run.ts in its quick mode (1 s per row, no cluster,
// no 100 k sessions) exits 0 and prints the table with every expected row and a numeric req/s.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startProcess } from '../support/processes.js';
import { requireBinary } from '../support/services.js';
import { scaled } from '../support/timing.js';

/** What the quick benchmark may take on an idle machine (it usually needs well under a minute). */
const BENCH_BUDGET_S = 240;

const redisBinary = requireBinary('redis-server', 'redis-server');

test(
  'bench/run.ts (quick) prints the benchmark table',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false, timeout: scaled(BENCH_BUDGET_S * 1000 + 60_000) },
  async () => {
    const resultsDir = mkdtempSync(join(tmpdir(), 'portcullis-bench-smoke-'));
    let stopBench = (): Promise<unknown> => Promise.resolve();
    try {
      // bench/run.ts starts its own children in groups of their own and stops them on SIGTERM.
      const bench = startProcess(
        'npm run bench (quick)',
        process.execPath,
        ['--import', 'tsx', 'bench/run.ts'],
        {
          env: {
            BENCH_QUICK: '1',
            BENCH_DURATION: '1',
            BENCH_WARMUP: '0.5',
            BENCH_CONNECTIONS: '8',
            BENCH_LOGIN_SECONDS: '1',
            BENCH_TIMEOUT: String(Math.ceil(scaled(BENCH_BUDGET_S * 1000) / 1000)),
            BENCH_RESULTS_DIR: resultsDir,
          },
          keepOutputChars: 1_000_000,
        },
      );
      stopBench = () => bench.stop({ graceMs: 15_000 });
      const { code } = await bench.exited;
      const stdout = bench.stdout();
      assert.equal(code, 0, `bench exited with ${code}\n${bench.output()}`);

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
      await stopBench();
      rmSync(resultsDir, { recursive: true, force: true });
    }
  },
);
