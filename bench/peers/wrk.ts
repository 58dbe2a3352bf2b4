// wrk: the command line for one run, and what its text output says. Used by bench/peers/run.ts and
// by bench/run.ts (when wrk is installed).
//
// Measured runs use `--latency` (the percentile table) and no script: a Lua `response()` callback
// costs wrk CPU per response. Check runs use the status script below instead, because wrk itself
// counts only non-2xx/3xx answers, and a 302 to a sign-in page is exactly the failure to catch.

export interface WrkRunSpec {
  url: string;
  connections: number;
  durationS: number;
  /** Sent as the Cookie header, when the target needs a session. */
  cookie?: string | undefined;
  /** Further request headers, sent as they are (e.g. accept). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** A Lua script file (check runs); absent for measured runs, which ask for --latency instead. */
  scriptFile?: string | undefined;
}

export interface WrkMeasurement {
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** wrk's "Non-2xx or 3xx responses". */
  non2xx3xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

export interface StatusCheck {
  responses: number;
  not200: number;
  /** The first status that was not 200; 0 when there was none. */
  firstOther: number;
}

/** One load-generator thread: the machine has 2 cores, the other one belongs to the servers. */
export function wrkArguments(spec: WrkRunSpec): string[] {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`];
  if (spec.scriptFile === undefined) args.push('--latency');
  else args.push('-s', spec.scriptFile);
  if (spec.cookie !== undefined) args.push('-H', `Cookie: ${spec.cookie}`);
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(spec.url);
  return args;
}

export const STATUS_CHECK_LUA = `-- Written by bench/run.ts or bench/peers/run.ts: counts the responses whose status is not 200.
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  responses = 0
  not200 = 0
  firstOther = 0
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    not200 = not200 + 1
    if firstOther == 0 then firstOther = status end
  end
end

function done(summary, latency, requests)
  local total, bad, first = 0, 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("responses")
    bad = bad + thread:get("not200")
    if first == 0 then first = thread:get("firstOther") end
  end
  io.write(string.format("peers-status-check responses=%d not200=%d first=%d\\n", total, bad, first))
end
`;

export function parseStatusCheck(output: string): StatusCheck | null {
  const match = /peers-status-check responses=(\d+) not200=(\d+) first=(\d+)/.exec(output);
  if (match === null) return null;
  return { responses: Number(match[1]), not200: Number(match[2]), firstOther: Number(match[3]) };
}

const MS_PER_UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  const factor = MS_PER_UNIT[unit];
  if (factor === undefined) throw new Error(`wrk: unknown time unit ${unit}`);
  return Number(value) * factor;
}

function percentileMs(output: string, percent: number): number {
  const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(output);
  if (match === null) throw new Error(`wrk: no ${percent}% latency line in:\n${output}`);
  return toMs(match[1] as string, match[2] as string);
}

/** Reads the output of `wrk --latency`; throws (quoting it) when a figure is missing. */
export function parseWrkOutput(output: string): WrkMeasurement {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(output);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (total === null || rate === null) throw new Error(`wrk: unexpected output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: Number(rate[1]),
    requests: Number(total[1]),
    seconds: toMs(total[2] as string, total[3] as string) / 1_000,
    p50Ms: percentileMs(output, 50),
    p75Ms: percentileMs(output, 75),
    p90Ms: percentileMs(output, 90),
    p99Ms: percentileMs(output, 99),
    non2xx3xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: {
      connect: Number(sockets?.[1] ?? 0),
      read: Number(sockets?.[2] ?? 0),
      write: Number(sockets?.[3] ?? 0),
      timeout: Number(sockets?.[4] ?? 0),
    },
  };
}
