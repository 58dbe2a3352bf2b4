// From the rounds of wrk runs to medians, the ratios issue 7's targets are stated in, and one table.
import type { LoginTiming } from './browser-login.js';
import type { StatusCheck, WrkMeasurement } from './wrk.js';

export interface RoundResult {
  round: number;
  check: StatusCheck | null;
  /** Null when the check run failed (the measured run is then skipped). */
  measured: WrkMeasurement | null;
  /** Status of one request with the same cookie right after the measured run. */
  statusAfter: number | null;
  failure: string | null;
}

export interface TargetResult {
  id: string;
  label: string;
  url: string;
  rounds: RoundResult[];
}

export interface RowSummary {
  id: string;
  label: string;
  /** Medians over the measured rounds; null when no round could be measured. */
  requestsPerSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  vsUpstream: number | null;
  /** (max - min) / median of req/s over the rounds, in %. */
  spreadPct: number | null;
  comparison: string;
  notes: string;
  rounds: RoundResult[];
}

export interface Comparison {
  ratio: number | null;
  target: string;
  met: boolean | null;
  detail: string;
}

export interface Summary {
  rows: RowSummary[];
  logins: { apacheShm: LoginTiming; portcullisMemory: LoginTiming };
  comparisons: {
    authMemoryOverApacheShm: Comparison;
    authRedisOverApacheRedis: Comparison;
    nginxAuthRequestPortcullisOverNginx204: Comparison;
    authMemoryOverPublic: Comparison;
    loginP50PortcullisOverApache: Comparison;
  };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const ratioOf = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : a / b;

const verdict = (met: boolean | null): string => (met === null ? 'not measured' : met ? 'met' : 'missed');

function notesFor(result: TargetResult): string {
  const notes: string[] = [];
  const failed = result.rounds.filter((round) => round.failure !== null);
  if (failed.length > 0) {
    notes.push(
      `${failed.length} of ${result.rounds.length} rounds not measured (${failed[0]?.failure ?? ''})`,
    );
  }
  const measured = result.rounds.flatMap((round) => (round.measured === null ? [] : [round.measured]));
  const non2xx = measured.reduce((sum, run) => sum + run.non2xx3xx, 0);
  if (non2xx > 0) notes.push(`${non2xx} non-2xx/3xx`);
  const sockets = measured.reduce(
    (sum, run) =>
      sum +
      run.socketErrors.connect +
      run.socketErrors.read +
      run.socketErrors.write +
      run.socketErrors.timeout,
    0,
  );
  if (sockets > 0) notes.push(`${sockets} socket errors`);
  const after = result.rounds.filter((round) => round.statusAfter !== null && round.statusAfter !== 200);
  if (after.length > 0) notes.push(`answered ${after[0]?.statusAfter} after a run`);
  return notes.join('; ');
}

function summariseTarget(result: TargetResult, upstreamRps: number | null): RowSummary {
  const measured = result.rounds.flatMap((round) => (round.measured === null ? [] : [round.measured]));
  const rates = measured.map((run) => run.requestsPerSecond);
  const requestsPerSecond = median(rates);
  const spreadPct =
    rates.length > 1 && requestsPerSecond !== null && requestsPerSecond > 0
      ? ((Math.max(...rates) - Math.min(...rates)) / requestsPerSecond) * 100
      : null;
  return {
    id: result.id,
    label: result.label,
    requestsPerSecond,
    p50Ms: median(measured.map((run) => run.p50Ms)),
    p99Ms: median(measured.map((run) => run.p99Ms)),
    vsUpstream: ratioOf(requestsPerSecond, upstreamRps),
    spreadPct,
    comparison: '',
    notes: notesFor(result),
    rounds: result.rounds,
  };
}

function throughputComparison(
  subject: RowSummary | undefined,
  reference: RowSummary | undefined,
  referenceName: string,
  atLeast: number,
): Comparison {
  const ratio = ratioOf(subject?.requestsPerSecond, reference?.requestsPerSecond);
  const met = ratio === null ? null : ratio >= atLeast;
  const target = `≥ ${atLeast.toFixed(2)}×`;
  return {
    ratio,
    target,
    met,
    detail: `${fmtRatio(ratio)}× ${referenceName} (target ${target}: ${verdict(met)})`,
  };
}

export function summarise(
  results: TargetResult[],
  logins: { apache: LoginTiming; portcullis: LoginTiming },
): Summary {
  const upstream = results.find((result) => result.id === 'upstream');
  const upstreamRps = upstream === undefined ? null : summariseTarget(upstream, null).requestsPerSecond;
  const rows = results.map((result) => summariseTarget(result, upstreamRps));
  const row = (id: string) => rows.find((candidate) => candidate.id === id);

  const memory = row('portcullis-memory');
  const apacheShm = row('apache-oidc-shm');
  const ratio = ratioOf(memory?.requestsPerSecond, apacheShm?.requestsPerSecond);
  const p99Met = memory?.p99Ms == null || apacheShm?.p99Ms == null ? null : memory.p99Ms <= apacheShm.p99Ms;
  const authMemoryOverApacheShm: Comparison = {
    ratio,
    target: '≥ 1.00× and p99 ≤ Apache’s',
    met: ratio === null || p99Met === null ? null : ratio >= 1 && p99Met,
    detail:
      `${fmtRatio(ratio)}× Apache shm (target ≥ 1.00×: ${verdict(ratio === null ? null : ratio >= 1)}); ` +
      `p99 ${fmtMs(memory?.p99Ms ?? null)} vs ${fmtMs(apacheShm?.p99Ms ?? null)} ms (target ≤: ${verdict(p99Met)})`,
  };
  const authMemoryOverPublic = throughputComparison(memory, row('portcullis-public'), 'public route', 0.85);
  const authRedisOverApacheRedis = throughputComparison(
    row('portcullis-redis'),
    row('apache-oidc-redis'),
    'Apache Redis',
    3,
  );
  const nginxAuthRequestPortcullisOverNginx204 = throughputComparison(
    row('nginx-authreq-portcullis'),
    row('nginx-authreq-204'),
    'nginx auth_request → 204',
    0.5,
  );
  const loginRatio = ratioOf(logins.portcullis.p50Ms, logins.apache.p50Ms);
  const loginMet = loginRatio === null ? null : loginRatio <= 1;
  const loginP50PortcullisOverApache: Comparison = {
    ratio: loginRatio,
    target: '≤ 1.00× Apache’s p50',
    met: loginMet,
    detail: `p50 ${fmtRatio(loginRatio)}× Apache’s (target ≤ 1.00×: ${verdict(loginMet)})`,
  };

  if (memory) memory.comparison = `${authMemoryOverApacheShm.detail}; ${authMemoryOverPublic.detail}`;
  const redisRow = row('portcullis-redis');
  if (redisRow) redisRow.comparison = authRedisOverApacheRedis.detail;
  const forwardAuth = row('nginx-authreq-portcullis');
  if (forwardAuth) forwardAuth.comparison = nginxAuthRequestPortcullisOverNginx204.detail;

  return {
    rows,
    logins: { apacheShm: logins.apache, portcullisMemory: logins.portcullis },
    comparisons: {
      authMemoryOverApacheShm,
      authRedisOverApacheRedis,
      nginxAuthRequestPortcullisOverNginx204,
      authMemoryOverPublic,
      loginP50PortcullisOverApache,
    },
  };
}

const fmtInt = (n: number | null): string => (n === null ? '—' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n: number | null): string => (n === null ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtRatio = (n: number | null): string => (n === null ? '—' : n.toFixed(2));

function loginNotes(timing: LoginTiming): string {
  return (
    `p90 ${fmtMs(timing.p90Ms)} ms, mean ${fmtMs(timing.meanMs)}, max ${fmtMs(timing.maxMs)}; ` +
    `${timing.logins} sequential logins of ${timing.requestsPerLogin} requests, each from an empty cookie jar, IdP included`
  );
}

export function renderTable(summary: Summary): string {
  const lines = [
    '| row | req/s | p50 ms | p99 ms | × upstream | issue 7 comparison | notes |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const row of summary.rows) {
    const notes = [row.spreadPct === null ? '' : `spread ${row.spreadPct.toFixed(0)} %`, row.notes]
      .filter((note) => note !== '')
      .join('; ');
    lines.push(
      `| ${row.label} | ${fmtInt(row.requestsPerSecond)} | ${fmtMs(row.p50Ms)} | ${fmtMs(row.p99Ms)} | ` +
        `${fmtRatio(row.vsUpstream)} | ${row.comparison} | ${notes} |`,
    );
  }
  const { apacheShm, portcullisMemory } = summary.logins;
  lines.push(
    `| login round trip: Apache + mod_auth_openidc (shm) | — | ${fmtMs(apacheShm.p50Ms)} | — | — |  | ${loginNotes(apacheShm)} |`,
    `| login round trip: Portcullis (memory) | — | ${fmtMs(portcullisMemory.p50Ms)} | — | — | ` +
      `${summary.comparisons.loginP50PortcullisOverApache.detail} | ${loginNotes(portcullisMemory)} |`,
  );
  return lines.join('\n');
}
