// Logging in to a target the way a browser does (test/support/browser.ts: redirects followed, a
// cookie jar, the IdP's form filled in), checking what the session cookie opens, and timing logins.
import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { loginAtLocalIdp, TestBrowser } from '../../test/support/browser.js';
import { IDENTITY_PATH, UPSTREAM_BODY } from './server-configs.js';

export interface LoginTarget {
  /** Where the browser starts, e.g. http://127.0.0.1:PORT/app/; the login must end there with the upstream's 200. */
  startUrl: string;
  /** Which of the cookies the browser then holds for the target make up the session (a browser sends them all). */
  isSessionCookie: (name: string) => boolean;
  /** The identity the upstream must see, as echoed by IDENTITY_PATH, e.g. 'x-auth-request-user=alice'. */
  identityEcho: string;
}

export const USER = { username: 'alice', password: 'alice' } as const;

export interface Login {
  cookie: string;
  /** HTTP requests the browser made, from the first navigation to the upstream's 200. */
  requests: number;
  ms: number;
}

/** One full login from an empty cookie jar: target -> IdP -> form -> callback -> target -> upstream 200. */
export async function browserLogin(target: LoginTarget): Promise<Login> {
  const started = performance.now();
  const browser = new TestBrowser();
  const first = await browser.navigate(target.startUrl);
  const { final, chain } = await loginAtLocalIdp(browser, first.final, USER.username, USER.password);
  const ms = performance.now() - started;
  if (final.status !== 200 || final.body !== UPSTREAM_BODY || final.url !== target.startUrl) {
    throw new Error(
      `login at ${target.startUrl} ended with ${final.status} at ${final.url}: ${final.body.slice(0, 200)}`,
    );
  }
  const cookie = [...browser.cookies(target.startUrl)]
    .filter(([name]) => target.isSessionCookie(name))
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
  if (cookie === '') throw new Error(`login at ${target.startUrl} left no session cookie`);
  return { cookie, requests: first.chain.length + chain.length, ms };
}

export interface PlainResponse {
  status: number;
  body: string;
}

/** A GET with only the given headers and a fresh connection (loopback targets only). */
export function plainGet(url: string, headers: Record<string, string> = {}): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timed out: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The checks before a target is measured: without a cookie it does not serve the page; the cookie
 * alone (no other header, as wrk sends it) gets the upstream's 200 at `loadUrl`; and the upstream
 * receives the user's identity. Throws with what was seen.
 */
export async function verifySession(target: LoginTarget, loadUrl: string, cookie: string): Promise<void> {
  const anonymous = await plainGet(loadUrl, { accept: 'text/html' });
  if (anonymous.status === 200) throw new Error(`${loadUrl} answered 200 without a session cookie`);
  const page = await plainGet(loadUrl, { cookie });
  if (page.status !== 200 || page.body !== UPSTREAM_BODY) {
    throw new Error(`${loadUrl} with the session cookie alone: ${page.status} ${page.body.slice(0, 200)}`);
  }
  const echo = await plainGet(new URL(IDENTITY_PATH, loadUrl).href, { cookie });
  if (echo.status !== 200 || !echo.body.includes(target.identityEcho)) {
    throw new Error(
      `the upstream behind ${loadUrl} did not see ${target.identityEcho}: ${echo.status} ${echo.body.trim()}`,
    );
  }
}

export interface LoginTiming {
  logins: number;
  requestsPerLogin: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}

/** `count` sequential full logins, each from an empty cookie jar, after one untimed warm-up login. */
export async function timeLogins(target: LoginTarget, count: number): Promise<LoginTiming> {
  await browserLogin(target);
  const samples: number[] = [];
  let requestsPerLogin = 0;
  for (let i = 0; i < count; i++) {
    const login = await browserLogin(target);
    samples.push(login.ms);
    requestsPerLogin = login.requests;
  }
  const sorted = samples.sort((a, b) => a - b);
  return {
    logins: sorted.length,
    requestsPerLogin,
    meanMs: sorted.reduce((sum, ms) => sum + ms, 0) / Math.max(1, sorted.length),
    p50Ms: nearestRank(sorted, 50),
    p90Ms: nearestRank(sorted, 90),
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}

/** Nearest-rank percentile of ascending samples. */
export function nearestRank(sorted: readonly number[], percent: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}
