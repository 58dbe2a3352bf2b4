// Break-glass through real gateways: the native form and its CSRF token, exempt users only, limits
// per user and per IP (shared by two replicas on one Redis), every IdP unreachable, the audit
// trail in the directory, clean logs, equal timing for unknown names, and `portcullis hash-password`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { verify } from '@node-rs/argon2';
import { stringify } from 'yaml';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import type { LocalIdpClient } from '../../dev/local-idp.js';
import type { AuditRecord } from '../../src/directory/directory.js';
import { openDirectory } from '../../src/directory/open-directory.js';
import { hashPassword } from '../../src/login/break-glass/password-hashing.js';
import { NATIVE_LOGIN_REFUSED } from '../../src/routes/native-login.js';
import { loginAtLocalIdp, TestBrowser, type BrowserResponse } from '../support/browser.js';
import { runPortcullis, type CliResult } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  startGatewayFromRaw,
  startStack,
  type GatewayInstance,
  type Stack,
} from '../support/gateway-stack.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { requireBinary } from '../support/services.js';
import { stopInOrder } from '../support/stop-in-order.js';

const ROOT_PASSWORD = 'Root-Br3ak-Glass-Passw0rd';
const LIMITED_PASSWORD = 'limited-Pa55-word';
const WRONG_PASSWORD = 'Wrong-Guess-123';
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const redisBinary = requireBinary('redis-server', 'redis-server');

let rootHash: string;
let limitedHash: string;
before(async () => {
  [rootHash, limitedHash] = await Promise.all([hashPassword(ROOT_PASSWORD), hashPassword(LIMITED_PASSWORD)]);
});

/** The local IdP registered for a provider called 'corp': 'local' is reserved for break-glass sessions. */
const corpClient = (callbackUrl: string, loggedOutUrl: string): LocalIdpClient => ({
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  redirect_uris: [callbackUrl.replace(/\/local$/, '/corp')],
  post_logout_redirect_uris: [loggedOutUrl],
  token_endpoint_auth_method: 'client_secret_basic',
});

// ---------------------------------------------------------------------------------------------
// Helpers: the form as a browser would use it

interface Form {
  page: BrowserResponse;
  csrf: string;
}

async function openForm(browser: TestBrowser, baseUrl: string, query = ''): Promise<Form> {
  const page = await browser.request(`${baseUrl}/.portcullis/login/native${query}`);
  assert.equal(page.status, 200, page.body);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(csrf, 'the form carries a CSRF token');
  return { page, csrf };
}

function post(
  browser: TestBrowser,
  baseUrl: string,
  fields: Record<string, string>,
  clientIp?: string,
): Promise<BrowserResponse> {
  return browser.request(`${baseUrl}/.portcullis/login/native`, {
    method: 'POST',
    form: fields,
    referrer: `${baseUrl}/.portcullis/login/native`,
    headers: clientIp === undefined ? {} : { 'x-forwarded-for': clientIp },
  });
}

/** Opens the form and submits it with these credentials. */
async function signInNative(
  browser: TestBrowser,
  baseUrl: string,
  username: string,
  password: string,
  clientIp?: string,
): Promise<BrowserResponse> {
  const { csrf } = await openForm(browser, baseUrl);
  return post(browser, baseUrl, { csrf, username, password }, clientIp);
}

const errorOf = (page: BrowserResponse): string | undefined =>
  /<p class="error" role="alert">([^<]*)<\/p>/.exec(page.body)?.[1];

async function userinfo(
  browser: TestBrowser,
  baseUrl: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await browser.request(`${baseUrl}/.portcullis/userinfo`, { headers: api });
  return {
    status: response.status,
    body: response.status === 200 ? (JSON.parse(response.body) as Record<string, unknown>) : {},
  };
}

let ipCounter = 0;
/** A client address of its own for each test, so one test's failures never lock out another's. */
const nextIp = (): string => `203.0.113.${++ipCounter}`;

// ---------------------------------------------------------------------------------------------

describe('break-glass native login (memory store, SSO up)', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      provider: { id: 'corp', displayName: 'Corporate SSO' },
      idpClient: corpClient,
      extra: {
        // The tests stand in for a trusted proxy on loopback: X-Forwarded-For picks the client IP.
        server: { trustProxy: ['loopback'] },
        breakGlass: {
          users: [
            {
              username: 'root',
              passwordHash: rootHash,
              email: 'root@example.com',
              name: 'Break-glass root',
              roles: ['admin'],
              groups: ['ops'],
            },
            { username: 'limited', passwordHash: limitedHash },
          ],
          rateLimit: {
            maxFailuresPerUser: 3,
            maxFailuresPerIp: 5,
            window: '5m',
            lockout: '1m',
            maxLockout: '10m',
          },
        },
      },
    });
  });
  after(() => stack.close());

  test('the form is reachable while hidden from the login page, which still goes straight to the IdP', async () => {
    const browser = new TestBrowser();
    const chooser = await browser.request(`${stack.publicUrl}/.portcullis/login?rd=/`);
    assert.equal(chooser.status, 302);
    assert.equal(new URL(chooser.headers.location ?? '').origin, stack.idp.issuer);
    const { page } = await openForm(browser, stack.publicUrl, '?rd=/reports');
    assert.match(page.body, /<form method="post" action="\/\.portcullis\/login\/native">/);
    assert.match(page.body, /name="rd" value="\/reports"/);
    assert.match(page.body, /type="password" id="password" name="password"/);
    assert.equal(page.headers['cache-control'], 'no-store');
  });

  test('the right password: a local session with the configured roles and groups, proxied like any other', async () => {
    const browser = new TestBrowser();
    const clientIp = nextIp();
    const { csrf } = await openForm(browser, stack.publicUrl, '?rd=/reports%3Fyear%3D2026');
    const response = await post(
      browser,
      stack.publicUrl,
      { csrf, username: ' Root ', password: ROOT_PASSWORD, rd: '/reports?year=2026' },
      clientIp,
    );
    assert.equal(response.status, 303, response.body);
    assert.equal(response.headers.location, '/reports?year=2026');

    const info = await userinfo(browser, stack.publicUrl);
    assert.equal(info.status, 200);
    assert.equal(info.body.sub, 'local:root');
    assert.equal(info.body.provider, 'local');
    assert.deepEqual(info.body.roles, ['admin']);
    assert.deepEqual(info.body.groups, ['ops']);

    const echo = await browser.request(`${stack.publicUrl}/reports?year=2026`, { headers: api });
    assert.equal(echo.status, 200);
    const seen = JSON.parse(echo.body) as {
      headers: Record<string, string>;
      assertion: { valid: boolean; claims: Record<string, unknown> };
    };
    assert.equal(seen.headers['x-auth-request-user'], 'root');
    assert.equal(seen.headers['x-auth-request-email'], 'root@example.com');
    assert.equal(seen.headers['x-auth-request-groups'], 'ops');
    assert.ok(seen.assertion.valid);
    assert.equal(seen.assertion.claims.sub, 'local:root');
    assert.deepEqual(seen.assertion.claims.roles, ['admin']);
  });

  test('an unsafe return URL falls back to /, and a local session signs out locally', async () => {
    const browser = new TestBrowser();
    const { csrf } = await openForm(browser, stack.publicUrl);
    const response = await post(
      browser,
      stack.publicUrl,
      { csrf, username: 'root', password: ROOT_PASSWORD, rd: '//evil.example/x' },
      nextIp(),
    );
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/');
    const page = await browser.request(`${stack.publicUrl}/.portcullis/logout`);
    const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const logout = await browser.request(`${stack.publicUrl}/.portcullis/logout`, {
      method: 'POST',
      form: { csrf: token },
    });
    assert.equal(logout.status, 303);
    // Not through the IdP's end-session endpoint: this session never came from it.
    assert.equal(logout.headers.location, `${stack.publicUrl}/.portcullis/logged-out`);
    assert.equal((await userinfo(browser, stack.publicUrl)).status, 401);
  });

  test('a wrong password and an unknown name get the same 401 and no session', async () => {
    const browser = new TestBrowser();
    const wrong = await signInNative(browser, stack.publicUrl, 'root', WRONG_PASSWORD, nextIp());
    const unknown = await signInNative(browser, stack.publicUrl, 'mallory', WRONG_PASSWORD, nextIp());
    for (const response of [wrong, unknown]) {
      assert.equal(response.status, 401);
      assert.equal(errorOf(response), NATIVE_LOGIN_REFUSED);
    }
    assert.equal(wrong.body.replace(/value="[^"]*"/g, ''), unknown.body.replace(/value="[^"]*"/g, ''));
    assert.equal((await userinfo(browser, stack.publicUrl)).status, 401);
  });

  test('a user who exists through SSO cannot sign in locally: same refusal', async () => {
    // alice signs in through the IdP first, so the directory knows her.
    const sso = new TestBrowser();
    const { final: idpPage } = await sso.navigate(`${stack.publicUrl}/`);
    const { final: landing } = await loginAtLocalIdp(sso, idpPage, 'alice', 'alice');
    assert.equal(landing.status, 200);
    assert.equal((await userinfo(sso, stack.publicUrl)).body.sub, 'corp:alice');

    for (const browser of [new TestBrowser(), sso]) {
      const refused = await signInNative(browser, stack.publicUrl, 'alice', 'alice', nextIp());
      assert.equal(refused.status, 401);
      assert.equal(errorOf(refused), NATIVE_LOGIN_REFUSED);
    }
    // The SSO session is untouched; the fresh browser has none.
    assert.equal((await userinfo(sso, stack.publicUrl)).body.sub, 'corp:alice');
  });

  test('an exempt user may also use SSO', async () => {
    // Nothing to do with local credentials: the IdP's bob is not on the list, yet SSO works for everyone.
    const browser = new TestBrowser();
    const { final: idpPage } = await browser.navigate(`${stack.publicUrl}/`);
    const { final } = await loginAtLocalIdp(browser, idpPage, 'bob', 'bob');
    assert.equal(final.status, 200);
  });

  test('a missing, wrong or foreign CSRF token is refused with 403 and creates no session', async () => {
    const browser = new TestBrowser();
    const { csrf } = await openForm(browser, stack.publicUrl);
    const other = await openForm(new TestBrowser(), stack.publicUrl);
    const cases: Array<[string, Record<string, string>]> = [
      ['missing', { username: 'root', password: ROOT_PASSWORD }],
      ['wrong', { csrf: `${csrf.slice(0, -2)}xx`, username: 'root', password: ROOT_PASSWORD }],
      ['another session’s', { csrf: other.csrf, username: 'root', password: ROOT_PASSWORD }],
    ];
    for (const [name, fields] of cases) {
      const response = await post(browser, stack.publicUrl, fields, nextIp());
      assert.equal(response.status, 403, name);
      assert.equal(response.headers['set-cookie'], undefined, name);
      assert.equal((await userinfo(browser, stack.publicUrl)).status, 401, name);
    }
    // Without any session (no cookie at all) the token cannot match either.
    const cookieless = await post(new TestBrowser(), stack.publicUrl, {
      csrf,
      username: 'root',
      password: ROOT_PASSWORD,
    });
    assert.equal(cookieless.status, 403);
    assert.equal(cookieless.headers['set-cookie'], undefined);
  });

  test('after maxFailuresPerUser failures the name is locked out from every IP, then answers 429', async () => {
    const browser = new TestBrowser();
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await signInNative(browser, stack.publicUrl, 'limited', WRONG_PASSWORD, nextIp())).status,
        401,
      );
    }
    const locked = await signInNative(browser, stack.publicUrl, 'LIMITED', LIMITED_PASSWORD, nextIp());
    assert.equal(locked.status, 429);
    assert.match(errorOf(locked) ?? '', /Too many failed sign-in attempts/);
    const retryAfter = Number(locked.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal((await userinfo(browser, stack.publicUrl)).status, 401);
  });

  test('after maxFailuresPerIp failures the client IP is locked out whatever the name', async () => {
    const browser = new TestBrowser();
    const clientIp = nextIp();
    for (let i = 0; i < 5; i++) {
      const response = await signInNative(browser, stack.publicUrl, `guess-${i}`, WRONG_PASSWORD, clientIp);
      assert.equal(response.status, 401, `attempt ${i}`);
    }
    assert.equal((await signInNative(browser, stack.publicUrl, 'root', ROOT_PASSWORD, clientIp)).status, 429);
    // The same user from another address is not affected.
    assert.equal((await signInNative(browser, stack.publicUrl, 'root', ROOT_PASSWORD, nextIp())).status, 303);
  });

  test('the audit trail in the directory records each attempt with who, where, when and outcome', async () => {
    const directory = await openDirectory(stack.primary.config.storage);
    let events: AuditRecord[];
    try {
      events = await directory.listAudit({ event: 'break-glass-login', limit: 1_000 });
    } finally {
      await directory.close();
    }
    const summary = events.map((e) => `${e.outcome}/${e.reason ?? '-'}/${e.actor ?? ''}`);
    for (const expected of [
      'success/-/Root',
      'failure/wrong-password/root',
      'failure/unknown-user/mallory',
      'failure/unknown-user/alice',
      'failure/csrf-rejected/root',
      'failure/rate-limited/LIMITED',
      'failure/wrong-password/limited',
    ]) {
      assert.ok(summary.includes(expected), `${expected} missing from ${JSON.stringify(summary)}`);
    }
    const success = events.find((e) => e.outcome === 'success');
    assert.equal(success?.providerId, 'local');
    assert.equal(success.userId, null);
    assert.match(success.clientIp ?? '', /^203\.0\.113\.\d+$/); // from the trusted proxy's X-Forwarded-For
    assert.ok(Math.abs(success.at - Date.now()) < 120_000);
    assert.doesNotMatch(JSON.stringify(events), new RegExp(`${ROOT_PASSWORD}|${WRONG_PASSWORD}|argon2`));
  });

  test('no password and no hash appears in the gateway logs', () => {
    const logs = stack.primary.logs.text;
    assert.match(logs, /"event":"break-glass-login"/);
    assert.match(logs, /"outcome":"success"/);
    for (const secret of [ROOT_PASSWORD, LIMITED_PASSWORD, WRONG_PASSWORD, '$argon2id']) {
      assert.ok(!logs.includes(secret), `the logs contain ${secret}`);
    }
    for (const hash of [rootHash, limitedHash]) {
      assert.ok(!logs.includes(hash.split('$').at(-1) ?? hash), 'the logs contain a hash');
    }
  });
});

describe('break-glass with every IdP unreachable', () => {
  let echo: EchoApp;
  let gateway: GatewayInstance;
  let publicUrl: string;
  let dataDir: string;

  before(async () => {
    const port = await freePort();
    const closedPort = await freePort(); // nothing listens there
    publicUrl = `http://localhost:${port}`;
    echo = await startEchoApp({
      jwksUrl: `http://127.0.0.1:${port}/.portcullis/jwks.json`,
      expectedIssuer: publicUrl,
    });
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-break-glass-'));
    gateway = await startGatewayFromRaw(
      {
        server: { publicUrl },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          {
            id: 'down',
            type: 'oidc',
            displayName: 'Unreachable IdP',
            issuer: `http://127.0.0.1:${closedPort}`,
            clientId: 'x',
            clientSecret: 'y',
            insecureAllowHttpIssuer: true,
          },
        ],
        routes: [
          { path: '/admins/', upstream: echo.url, allow: { roles: ['admin'] } },
          { path: '/', upstream: echo.url, allow: { authenticated: true } },
        ],
        // No group maps to admin: the break-glass user is the only way to it (accepted).
        roles: {},
        breakGlass: {
          users: [
            { username: 'root', passwordHash: rootHash, roles: ['admin'] },
            { username: 'helpdesk', passwordHash: limitedHash, groups: ['helpdesk'] },
          ],
          showOnLoginPage: true,
          rateLimit: { maxFailuresPerUser: 100, maxFailuresPerIp: 200 },
        },
        storage: { dataDir },
      },
      port,
    );
  });
  after(async () => {
    await gateway.close();
    await echo.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the gateway is ready: readiness never depends on an IdP', async () => {
    const ready = await new TestBrowser().request(`${publicUrl}/.portcullis/readyz`, { headers: api });
    assert.equal(ready.status, 200);
  });

  test('showOnLoginPage: the chooser links the form, even with a single provider (no redirect to the dead IdP)', async () => {
    const chooser = await new TestBrowser().request(`${publicUrl}/.portcullis/login?rd=/admins/`);
    assert.equal(chooser.status, 200);
    assert.match(chooser.body, /href="\/\.portcullis\/login\/native\?rd=%2Fadmins%2F"/);
    assert.match(chooser.body, /Sign in with Unreachable IdP/);
  });

  test('an exempt admin signs in locally and reaches the app in a browser', async () => {
    const browser = new TestBrowser();
    const { final: chooser } = await browser.navigate(`${publicUrl}/admins/`);
    assert.equal(chooser.status, 200);
    const link = /href="([^"]*login\/native[^"]*)"/.exec(chooser.body)?.[1]?.replaceAll('&#38;', '&');
    assert.ok(link);
    const { final: form } = await browser.navigate(new URL(link, publicUrl).href, { referrer: chooser.url });
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    const rd = /name="rd" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    const { final: landing } = await browser.navigate(`${publicUrl}/.portcullis/login/native`, {
      form: { csrf, rd, username: 'root', password: ROOT_PASSWORD },
      referrer: form.url,
    });
    assert.equal(landing.status, 200, landing.body.slice(0, 500));
    assert.equal(new URL(landing.url).pathname, '/admins/');
    assert.match(landing.body, /Echo app/);
    assert.match(landing.body, /local:root/);
    assert.match(landing.body, /Assertion verified/);
  });

  test('roles decide as for any session: a non-admin exempt user gets the app but not /admins/', async () => {
    const browser = new TestBrowser();
    assert.equal((await signInNative(browser, publicUrl, 'helpdesk', LIMITED_PASSWORD)).status, 303);
    assert.equal((await browser.request(`${publicUrl}/`, { headers: api })).status, 200);
    assert.equal((await browser.request(`${publicUrl}/admins/`, { headers: api })).status, 403);
  });

  test('SSO answers 503 while the native door stays open', async () => {
    const sso = await new TestBrowser().request(`${publicUrl}/.portcullis/login/down`);
    assert.equal(sso.status, 503);
  });

  test('an unknown name costs as much as a wrong password (one argon2id verification each)', async () => {
    const browser = new TestBrowser();
    const { csrf } = await openForm(browser, publicUrl);
    const time = async (username: string): Promise<number> => {
      const started = performance.now();
      const response = await post(browser, publicUrl, { csrf, username, password: WRONG_PASSWORD });
      const elapsed = performance.now() - started;
      assert.equal(response.status, 401);
      return elapsed;
    };
    await time('warm-up'); // the dummy hash is made in the background at start
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 9; i++) {
      known.push(await time('root'));
      unknown.push(await time(`nobody-${i}`));
    }
    const [k, u] = [median(known), median(unknown)];
    assert.ok(u < k * 3 && k < u * 3, `median known ${k.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`);
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe(
  'break-glass limits shared by two replicas on one Redis',
  { skip: 'skip' in redisBinary ? redisBinary.skip : false },
  () => {
    let redis: TestRedis;
    let stack: Stack;
    let replicaUrl: string;

    before(async () => {
      redis = await startRedisServer();
      stack = await startStack({
        store: 'redis',
        redisUrl: redis.url,
        sessionSecret: randomBytes(32).toString('hex'),
        provider: { id: 'corp' },
        idpClient: corpClient,
        extra: {
          // trustProxy stays 0: X-Forwarded-For from the client is not believed.
          breakGlass: {
            users: [{ username: 'root', passwordHash: rootHash, roles: ['admin'] }],
            rateLimit: { maxFailuresPerUser: 3, maxFailuresPerIp: 5, window: '5m', lockout: '1m' },
          },
        },
      });
      const replica = await stack.startReplica();
      replicaUrl = `http://localhost:${replica.gateway.port}`;
    });
    after(() => stopInOrder(stack, redis));

    test('a form served by one replica is accepted by the other, and the session works on both', async () => {
      const browser = new TestBrowser();
      const { csrf } = await openForm(browser, stack.publicUrl);
      const response = await post(browser, replicaUrl, { csrf, username: 'root', password: ROOT_PASSWORD });
      assert.equal(response.status, 303, response.body);
      assert.equal((await userinfo(browser, stack.publicUrl)).body.sub, 'local:root');
      assert.equal((await browser.request(`${replicaUrl}/`, { headers: api })).status, 200);
    });

    test('failures on either replica count together, per user and then per IP (X-Forwarded-For ignored)', async () => {
      const browser = new TestBrowser();
      // Three wrong passwords for root, alternating replicas and claiming other addresses.
      for (const [url, spoofed] of [
        [stack.publicUrl, '198.51.100.1'],
        [replicaUrl, '198.51.100.2'],
        [stack.publicUrl, '198.51.100.3'],
      ] as const) {
        assert.equal((await signInNative(browser, url, 'root', WRONG_PASSWORD, spoofed)).status, 401);
      }
      const lockedUser = await signInNative(browser, replicaUrl, 'root', ROOT_PASSWORD, '198.51.100.4');
      assert.equal(lockedUser.status, 429);

      // The IP (127.0.0.1 whatever the header says) has 3 failures; two more on other names lock it out.
      assert.equal(
        (await signInNative(browser, replicaUrl, 'guess-1', WRONG_PASSWORD, '198.51.100.5')).status,
        401,
      );
      assert.equal(
        (await signInNative(browser, stack.publicUrl, 'guess-2', WRONG_PASSWORD, '198.51.100.6')).status,
        401,
      );
      const lockedIp = await signInNative(
        browser,
        replicaUrl,
        'someone-else',
        WRONG_PASSWORD,
        '198.51.100.7',
      );
      assert.equal(lockedIp.status, 429);
      assert.equal((await userinfo(browser, stack.publicUrl)).status, 401);
    });
  },
);

// ---------------------------------------------------------------------------------------------
// The CLI

function runHashPassword(args: string[], stdin: string): Promise<CliResult> {
  return runPortcullis(['hash-password', ...args], { stdin });
}

/** Runs the real entry point; `until` ends a long-running command (SIGTERM) once its output matches. */
function runCli(args: string[], stdin: string, until?: RegExp): Promise<CliResult> {
  return runPortcullis(args, { stdin, ...(until === undefined ? {} : { until }) });
}

describe('portcullis hash-password', () => {
  test('reads the password on stdin and prints an argon2id hash that verifies it', async () => {
    const result = await runHashPassword([], 'correct horse battery\n');
    assert.equal(result.code, 0, result.stderr);
    const printed = result.stdout.trim();
    assert.match(printed, /^\$argon2id\$v=19\$m=65536,t=3,p=1\$[^$]+\$[^$]+$/);
    assert.equal(await verify(printed, 'correct horse battery'), true);
    assert.equal(await verify(printed, 'correct horse battery\n'), false); // the newline is not part of it
    assert.doesNotMatch(result.stdout + result.stderr, /correct horse/);
  });

  test('refuses a password given as an argument, without printing it', async () => {
    const result = await runHashPassword(['hunter2-on-argv'], '');
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /refusing a password given as an argument/);
    assert.match(result.stderr, /stdin/);
    assert.doesNotMatch(result.stderr, /hunter2-on-argv/);
  });

  test('refuses an empty password', async () => {
    for (const input of ['', '\n']) {
      const result = await runHashPassword([], input);
      assert.equal(result.code, 1, JSON.stringify(input));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /empty password/);
    }
  });
});

describe('the warning when no break-glass user holds the admin role', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-break-glass-cli-'));
    file = join(dir, 'gateway.yaml');
    const port = await freePort();
    writeFileSync(
      file,
      stringify({
        server: { listen: `127.0.0.1:${port}`, publicUrl: `http://localhost:${port}` },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          { id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
        ],
        routes: [{ path: '/', upstream: 'http://127.0.0.1:9', allow: { authenticated: true } }],
        roles: { admin: { groups: ['gw-admins'] } },
        storage: { dataDir: join(dir, 'data') },
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('check-config prints it and still exits 0', async () => {
    const result = await runCli(['check-config', file], '');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /breakGlass\.users: no break-glass user holds the admin role/);
  });

  test('serve logs it at start', async () => {
    const result = await runCli(['serve', '--config', file], '', /portcullis listening/);
    assert.match(result.stdout, /"key":"breakGlass\.users","msg":"no break-glass user holds the admin role/);
    assert.match(result.stdout, /portcullis listening/);
  });
});
