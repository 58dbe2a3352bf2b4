// Break-glass without HTTP: its config rules, the username and IP keys, and the credential check
// with its limits, back-off and audit trail (memory limiter, stub directory).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hash, parseOptions, verify } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { canonicalUsername } from '../../src/core/break-glass-identity.js';
import { parseConfigText, type ConfigIssue, type LoadedConfig } from '../../src/config/load.js';
import type { BreakGlassConfig } from '../../src/config/schema.js';
import type { Identity } from '../../src/core/identity.js';
import type { AuditRecord } from '../../src/directory/directory.js';
import {
  AUDIT_EVENT,
  BreakGlassUnavailable,
  createBreakGlass,
  type BreakGlass,
} from '../../src/login/break-glass/attempts.js';
import {
  ARGON2ID_OPTIONS,
  dummyHashOptionsFor,
  hashPassword,
} from '../../src/login/break-glass/password-hashing.js';
import { clientKeyOfIp } from '../../src/login/break-glass/rate-limits.js';
import { createLogger } from '../../src/observability/logger.js';
import { LogCapture } from '../support/gateway-stack.js';

const SECRET = 'k7Qw9zR2mX4pL8vN3bT6yH1jF5dS0aGe';
/** Cheap parameters keep these tests fast; the integration tests use hash-password's. */
const FAST = { algorithm: 2, memoryCost: 8_192, timeCost: 1, parallelism: 1 } as const;

type Plain = Record<string, unknown>;

let rootHash: string;
let opsHash: string;
let strongHash: string;
const tmp = mkdtempSync(join(tmpdir(), 'portcullis-break-glass-unit-'));
before(async () => {
  rootHash = await hash('correct horse', FAST);
  opsHash = await hash('ops password', FAST);
  strongHash = await hash('strong', { ...FAST, memoryCost: 19_456, timeCost: 2 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function baseConfig(
  breakGlass: Plain | undefined,
  roles: Plain = { admin: { groups: ['gw-admins'] } },
): Plain {
  return {
    server: { publicUrl: 'https://apps.example.com' },
    session: { secret: SECRET },
    providers: [
      { id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
    ],
    routes: [{ upstream: 'http://127.0.0.1:3000', allow: { authenticated: true } }],
    roles,
    ...(breakGlass === undefined ? {} : { breakGlass }),
  };
}

function load(config: Plain): { ok: true; value: LoadedConfig } | { ok: false; error: ConfigIssue[] } {
  return parseConfigText(stringify(config), { env: {}, baseDir: tmp, source: 'test.yaml' });
}

function loadOk(config: Plain): LoadedConfig {
  const result = load(config);
  if (!result.ok) assert.fail(`expected the config to load:\n${JSON.stringify(result.error, null, 2)}`);
  return result.value;
}

function loadRefused(config: Plain): ConfigIssue[] {
  const result = load(config);
  if (result.ok) assert.fail('expected the config to be refused');
  return result.error;
}

function hasIssue(issues: readonly ConfigIssue[], path: string, reason: RegExp): boolean {
  return issues.some((issue) => issue.path === path && reason.test(issue.message));
}

describe('canonical usernames and client keys', () => {
  test('case, surrounding space and compatibility forms fold to one name', () => {
    for (const variant of ['root', 'Root', '  ROOT\t', 'ｒｏｏｔ', 'ＲＯＯＴ', '\u3000root']) {
      assert.equal(canonicalUsername(variant), 'root', JSON.stringify(variant));
    }
    assert.equal(canonicalUsername('Root@Example.COM'), 'root@example.com');
    assert.notEqual(canonicalUsername('r oot'), 'root');
  });

  test('canonicalisation is idempotent', () => {
    for (const name of ['İstanbul', 'ﬁle', 'Ⅻ', 'Å', 'straße']) {
      const once = canonicalUsername(name);
      assert.equal(canonicalUsername(once), once, name);
    }
  });

  test('IPv4 stays, IPv4-mapped IPv6 unwraps, IPv6 counts per /64', () => {
    assert.equal(clientKeyOfIp('203.0.113.7'), '203.0.113.7');
    assert.equal(clientKeyOfIp('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientKeyOfIp('::FFFF:203.0.113.7'), '203.0.113.7');
    assert.equal(clientKeyOfIp('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(clientKeyOfIp('2001:0DB8:0001:0002::9'), '2001:db8:1:2::/64');
    assert.equal(clientKeyOfIp('2001:db8:1:3::9'), '2001:db8:1:3::/64');
    assert.equal(clientKeyOfIp('::1'), '0:0:0:0::/64');
    assert.equal(clientKeyOfIp('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientKeyOfIp('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
    assert.equal(clientKeyOfIp(''), 'unknown');
  });
});

describe('breakGlass config', () => {
  test('defaults: no users, hidden, limits 5 per user / 20 per IP over 15m, lockout 1m doubling to 1h', () => {
    const { config } = loadOk(baseConfig(undefined));
    assert.deepEqual(config.breakGlass, {
      users: [],
      showOnLoginPage: false,
      rateLimit: {
        maxFailuresPerUser: 5,
        maxFailuresPerIp: 20,
        window: 900_000,
        lockout: 60_000,
        maxLockout: 3_600_000,
      },
    });
  });

  test('a user takes roles and groups; durations are parsed', () => {
    const { config } = loadOk(
      baseConfig({
        users: [
          {
            username: 'Root',
            passwordHash: rootHash,
            roles: ['admin'],
            groups: ['ops'],
            email: 'root@example.com',
          },
        ],
        showOnLoginPage: true,
        rateLimit: { maxFailuresPerUser: 3, window: '1m', lockout: '10s', maxLockout: '5m' },
      }),
    );
    assert.equal(config.breakGlass.users[0]?.passwordHash, rootHash);
    assert.deepEqual(config.breakGlass.users[0].roles, ['admin']);
    assert.equal(config.breakGlass.rateLimit.window, 60_000);
    assert.equal(config.breakGlass.rateLimit.lockout, 10_000);
    assert.equal(config.breakGlass.rateLimit.maxFailuresPerIp, 20);
  });

  test('the admin role may be reachable through a break-glass user alone', () => {
    const { warnings } = loadOk(
      baseConfig({ users: [{ username: 'root', passwordHash: rootHash, roles: ['admin'] }] }, {}),
    );
    assert.ok(!warnings.some((w) => w.path === 'breakGlass.users'), JSON.stringify(warnings));
  });

  test('a config where neither a group nor a break-glass user maps to admin is refused', () => {
    for (const roles of [{}, { admin: { groups: [] } }, { editor: { groups: ['gw-admins'] } }]) {
      const issues = loadRefused(
        baseConfig({ users: [{ username: 'root', passwordHash: rootHash, roles: ['viewer'] }] }, roles),
      );
      assert.ok(hasIssue(issues, 'roles.admin', /no group and no break-glass user/), JSON.stringify(issues));
    }
  });

  test('a warning names breakGlass.users when no exempt user holds admin', () => {
    const none = loadOk(baseConfig(undefined));
    assert.ok(hasIssue(none.warnings, 'breakGlass.users', /no break-glass user holds the admin role/));
    const viewer = loadOk(
      baseConfig({ users: [{ username: 'v', passwordHash: rootHash, roles: ['viewer'] }] }),
    );
    assert.ok(hasIssue(viewer.warnings, 'breakGlass.users', /no break-glass user holds the admin role/));
    // Holding admin through a group the role map names counts too.
    const viaGroup = loadOk(
      baseConfig({ users: [{ username: 'g', passwordHash: rootHash, groups: ['gw-admins'] }] }),
    );
    assert.ok(
      !viaGroup.warnings.some((w) => w.path === 'breakGlass.users'),
      JSON.stringify(viaGroup.warnings),
    );
  });

  test('two users whose names differ only in case or width are refused', () => {
    const issues = loadRefused(
      baseConfig({
        users: [
          { username: 'root', passwordHash: rootHash, roles: ['admin'] },
          { username: 'ＲＯＯＴ', passwordHash: opsHash },
        ],
      }),
    );
    assert.ok(hasIssue(issues, 'breakGlass.users.1.username', /same username as breakGlass\.users\.0/));
  });

  test('a password hash that is not argon2id is refused without echoing it', () => {
    const bcrypt = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';
    for (const passwordHash of [bcrypt, 'plaintext-password', rootHash.replace('argon2id', 'argon2i')]) {
      const issues = loadRefused(
        baseConfig({ users: [{ username: 'root', passwordHash, roles: ['admin'] }] }),
      );
      assert.ok(hasIssue(issues, 'breakGlass.users.0.passwordHash', /argon2id/), JSON.stringify(issues));
      assert.ok(!JSON.stringify(issues).includes(passwordHash), 'the message echoes the value');
    }
  });

  test('passwordHashFile reads the hash from a file (a trailing newline is not part of it)', () => {
    const file = join(tmp, 'root.hash');
    writeFileSync(file, `${rootHash}\n`);
    const { config } = loadOk(
      baseConfig({ users: [{ username: 'root', passwordHashFile: file, roles: ['admin'] }] }),
    );
    assert.equal(config.breakGlass.users[0]?.passwordHash, rootHash);
    const issues = loadRefused(
      baseConfig({ users: [{ username: 'root', passwordHashFile: join(tmp, 'absent'), roles: ['admin'] }] }),
    );
    assert.ok(hasIssue(issues, 'breakGlass.users.0.passwordHashFile', /ENOENT/));
  });

  test("provider id 'native' is always refused; 'local' only while break-glass users exist", () => {
    const named = (id: string, users: Plain[]) =>
      configWithProvider(baseConfig(users.length === 0 ? undefined : { users }), id);
    assert.ok(hasIssue(loadRefused(named('native', [])), 'providers.0.id', /reserved/));
    const users = [{ username: 'root', passwordHash: rootHash, roles: ['admin'] }];
    assert.ok(hasIssue(loadRefused(named('local', users)), 'providers.0.id', /reserved for break-glass/));
    loadOk(named('local', []));
  });

  test('weak hash parameters and a link to an empty list warn', () => {
    const { warnings } = loadOk(
      baseConfig({ users: [{ username: 'root', passwordHash: rootHash, roles: ['admin'] }] }),
    );
    assert.ok(hasIssue(warnings, 'breakGlass.users.0.passwordHash', /below the recommended minimum/));
    const mixed = loadOk(
      baseConfig({
        users: [
          { username: 'root', passwordHash: rootHash, roles: ['admin'] },
          { username: 'same', passwordHash: opsHash },
          { username: 'other', passwordHash: strongHash },
        ],
      }),
    );
    assert.ok(!hasIssue(mixed.warnings, 'breakGlass.users.1.passwordHash', /other argon2id parameters/));
    assert.ok(hasIssue(mixed.warnings, 'breakGlass.users.2.passwordHash', /other argon2id parameters/));
    const empty = loadOk(baseConfig({ showOnLoginPage: true }));
    assert.ok(hasIssue(empty.warnings, 'breakGlass.showOnLoginPage', /empty/));
  });

  test('maxLockout shorter than lockout is refused; unknown keys are refused', () => {
    assert.ok(
      hasIssue(
        loadRefused(baseConfig({ rateLimit: { lockout: '10m', maxLockout: '1m' } })),
        'breakGlass.rateLimit.maxLockout',
        /lockout/,
      ),
    );
    assert.ok(
      hasIssue(
        loadRefused(baseConfig({ users: [{ username: 'root', password: 'x', passwordHash: rootHash }] })),
        'breakGlass.users.0',
        /unknown key 'password'/,
      ),
    );
  });
});

function configWithProvider(config: Plain, id: string): Plain {
  const providers = config.providers as Plain[];
  return { ...config, providers: [{ ...providers[0], id }] };
}

// ---------------------------------------------------------------------------------------------
// The credential check

interface Harness {
  breakGlass: BreakGlass;
  audit: AuditRecord[];
  logs: LogCapture;
  established: Identity[];
  attempt(username: string, password: string, clientIp?: string): ReturnType<BreakGlass['attempt']>;
}

function harness(
  overrides: Partial<BreakGlassConfig['rateLimit']> = {},
  options: { auditFails?: boolean; redis?: Redis } = {},
): Harness {
  const audit: AuditRecord[] = [];
  const logs = new LogCapture();
  const established: Identity[] = [];
  const config: BreakGlassConfig = {
    users: [
      {
        username: 'Root',
        passwordHash: rootHash,
        roles: ['admin'],
        groups: ['zeta', 'ops', 'ops'],
        email: 'root@example.com',
        name: 'Root',
      },
      { username: 'ops', passwordHash: opsHash, roles: [], groups: ['gw-admins'] },
    ],
    showOnLoginPage: false,
    rateLimit: {
      maxFailuresPerUser: 3,
      maxFailuresPerIp: 10,
      window: 60_000,
      lockout: 60_000,
      maxLockout: 600_000,
      ...overrides,
    },
  };
  const breakGlass = createBreakGlass({
    config,
    roles: { admin: { groups: ['gw-admins'] }, ops: { groups: ['ops'] } },
    redis: options.redis ?? null,
    keyPrefix: 'test:',
    audit: {
      recordAudit: (event) => {
        if (options.auditFails === true) return Promise.reject(new Error('database is down'));
        audit.push(event);
        return Promise.resolve();
      },
    },
    clock: { now: () => 1_700_000_000_000 },
    log: createLogger({ level: 'debug', destination: logs }),
  });
  return {
    breakGlass,
    audit,
    logs,
    established,
    attempt: (username, password, clientIp = '192.0.2.1') =>
      breakGlass.attempt({ username, password, clientIp }, (identity) => {
        established.push(identity);
        return Promise.resolve();
      }),
  };
}

describe('the credential check', () => {
  test('the right password signs in with a local identity carrying the configured roles and groups', async () => {
    const h = harness();
    const outcome = await h.attempt('  ROOT ', 'correct horse');
    assert.equal(outcome.kind, 'success');
    const identity: Identity = {
      subject: 'local:root',
      providerId: 'local',
      userId: null,
      username: 'Root',
      email: 'root@example.com',
      name: 'Root',
      groups: ['ops', 'zeta'],
      roles: ['admin', 'ops'], // configured, plus what group ops maps to
    };
    assert.deepEqual(outcome.identity, identity);
    assert.deepEqual(h.established, [identity]);
    assert.deepEqual(h.audit, [
      {
        at: 1_700_000_000_000,
        event: AUDIT_EVENT,
        outcome: 'success',
        actor: 'ROOT',
        providerId: 'local',
        userId: null,
        clientIp: '192.0.2.1',
        reason: null,
      },
    ]);
  });

  test('roles may come from groups alone', async () => {
    const outcome = await harness().attempt('ops', 'ops password');
    assert.deepEqual(outcome.kind === 'success' ? outcome.identity.roles : null, ['admin']);
  });

  test('a wrong password and an unknown name get the same refusal; both are audited with the reason', async () => {
    const h = harness();
    assert.deepEqual(await h.attempt('root', 'Correct horse'), { kind: 'refused' });
    assert.deepEqual(await h.attempt('mallory', 'correct horse'), { kind: 'refused' });
    assert.deepEqual(await h.attempt('', ''), { kind: 'refused' });
    assert.deepEqual(await h.attempt('root', 'x'.repeat(5_000)), { kind: 'refused' });
    assert.deepEqual(h.established, []);
    assert.deepEqual(
      h.audit.map((e) => [e.outcome, e.actor, e.reason]),
      [
        ['failure', 'root', 'wrong-password'],
        ['failure', 'mallory', 'unknown-user'],
        ['failure', '', 'unknown-user'],
        ['failure', 'root', 'wrong-password'],
      ],
    );
  });

  test('neither the password nor the hash reaches the log or the audit trail', async () => {
    const h = harness();
    await h.attempt('root', 'correct horse');
    await h.attempt('root', 'a-wrong-Passw0rd');
    const everything = `${h.logs.text}\n${JSON.stringify(h.audit)}`;
    assert.match(h.logs.text, /break-glass-login/);
    for (const secret of ['correct horse', 'a-wrong-Passw0rd', rootHash, rootHash.split('$').at(-1) ?? '']) {
      assert.ok(!everything.includes(secret), `found ${secret}`);
    }
  });

  test('after maxFailuresPerUser failures the name is locked out, from any IP, even with the right password', async () => {
    const h = harness();
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      assert.equal((await h.attempt('root', 'nope', ip)).kind, 'refused');
    }
    const locked = await h.attempt('Root', 'correct horse', '192.0.2.4');
    assert.equal(locked.kind, 'rate-limited');
    assert.ok(locked.retryAfterMs > 50_000 && locked.retryAfterMs <= 60_000);
    assert.equal(h.audit.at(-1)?.reason, 'rate-limited');
    // Other names are not affected.
    assert.equal((await h.attempt('ops', 'ops password', '192.0.2.4')).kind, 'success');
  });

  test('unknown names are limited exactly like known ones (no enumeration through the limit)', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++)
      assert.equal((await h.attempt('ghost', 'nope', `192.0.2.${i}`)).kind, 'refused');
    assert.equal((await h.attempt('ghost', 'nope', '192.0.2.9')).kind, 'rate-limited');
  });

  test('after maxFailuresPerIp failures the IP is locked out, whatever the name', async () => {
    const h = harness({ maxFailuresPerUser: 100, maxFailuresPerIp: 4 });
    for (const name of ['a', 'b', 'c', 'd'])
      assert.equal((await h.attempt(name, 'nope', '198.51.100.7')).kind, 'refused');
    assert.equal((await h.attempt('root', 'correct horse', '198.51.100.7')).kind, 'rate-limited');
    assert.equal((await h.attempt('root', 'correct horse', '198.51.100.8')).kind, 'success');
    // One IPv6 /64 is one client.
    for (const host of ['1', '2', '3', '4']) await h.attempt('x', 'nope', `2001:db8:7:7::${host}`);
    assert.equal((await h.attempt('root', 'correct horse', '2001:db8:7:7::99')).kind, 'rate-limited');
  });

  test('a success starts the name over and gives the IP its attempt back', async () => {
    // Six failures from one IP in all: without the attempts given back, the seventh point would lock it out.
    const h = harness({ maxFailuresPerUser: 3, maxFailuresPerIp: 7 });
    for (let round = 0; round < 3; round++) {
      assert.equal((await h.attempt('root', 'nope')).kind, 'refused');
      assert.equal((await h.attempt('root', 'nope')).kind, 'refused');
      assert.equal((await h.attempt('root', 'correct horse')).kind, 'success', `round ${round}`);
    }
  });

  test('lockouts back off: each one doubles the next', async () => {
    const h = harness({ maxFailuresPerUser: 2, lockout: 1_000, maxLockout: 60_000 });
    const fail = () => h.attempt('root', 'nope', '192.0.2.50');
    await fail();
    await fail();
    const first = await h.attempt('root', 'correct horse', '192.0.2.51');
    assert.ok(first.kind === 'rate-limited' && first.retryAfterMs <= 1_000, JSON.stringify(first));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await fail();
    await fail();
    const second = await h.attempt('root', 'correct horse', '192.0.2.52');
    assert.ok(
      second.kind === 'rate-limited' && second.retryAfterMs > 1_000 && second.retryAfterMs <= 2_000,
      JSON.stringify(second),
    );
  });

  test('parallel attempts cannot slip past the limit', async () => {
    const h = harness({ maxFailuresPerUser: 3 });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => h.attempt('root', `nope${i}`, `192.0.2.${i}`)),
    );
    assert.equal(outcomes.filter((o) => o.kind === 'refused').length, 3);
    assert.equal(outcomes.filter((o) => o.kind === 'rate-limited').length, 7);
  });

  test('a session that cannot be created is audited as an error, not a sign-in', async () => {
    const h = harness();
    await assert.rejects(
      h.breakGlass.attempt({ username: 'root', password: 'correct horse', clientIp: '192.0.2.1' }, () =>
        Promise.reject(new Error('session store down')),
      ),
      /session store down/,
    );
    assert.deepEqual(
      h.audit.map((e) => [e.outcome, e.reason]),
      [['error', 'session-not-created']],
    );
  });

  test('an audit store that fails does not shut the door; the event is logged instead', async () => {
    const h = harness({}, { auditFails: true });
    assert.equal((await h.attempt('root', 'correct horse')).kind, 'success');
    assert.match(h.logs.text, /audit event not stored/);
    assert.match(h.logs.text, /database is down/);
  });

  test('a limiter store that is not ready refuses with 503, audited as an error', async () => {
    // An ioredis client whose connection is gone: rejectIfRedisNotReady refuses before any command.
    const gone = { status: 'end', defineCommand: () => {} } as unknown as Redis;
    const h = harness({}, { redis: gone });
    await assert.rejects(h.attempt('root', 'correct horse'), BreakGlassUnavailable);
    assert.deepEqual(
      h.audit.map((e) => [e.outcome, e.reason]),
      [['error', 'limiter-unavailable']],
    );
    assert.deepEqual(h.established, []);
  });

  test('a refused form (CSRF) is audited with its reason', async () => {
    const h = harness();
    await h.breakGlass.recordRefusedForm({
      username: 'root\nforged line',
      clientIp: '192.0.2.1',
      reason: 'csrf-rejected',
    });
    assert.deepEqual(
      h.audit.map((e) => [e.outcome, e.actor, e.reason]),
      [['failure', 'root?forged line', 'csrf-rejected']],
    );
  });
});

describe('hashes', () => {
  test('hashPassword makes an argon2id hash with the documented parameters that verifies', async () => {
    const made = await hashPassword('s3cret');
    assert.match(made, /^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    assert.equal(await verify(made, 's3cret'), true);
    assert.equal(await verify(made, 's3creT'), false);
    assert.deepEqual(
      {
        memoryCost: ARGON2ID_OPTIONS.memoryCost,
        timeCost: ARGON2ID_OPTIONS.timeCost,
        parallelism: ARGON2ID_OPTIONS.parallelism,
      },
      { memoryCost: 65_536, timeCost: 3, parallelism: 1 },
    );
  });

  test('the dummy hash takes the first configured hash’s parameters, or the defaults', () => {
    const options = dummyHashOptionsFor([rootHash, opsHash]);
    const parsed = parseOptions(rootHash);
    assert.equal(options.memoryCost, parsed.memoryCost);
    assert.equal(options.timeCost, parsed.timeCost);
    assert.equal(options.parallelism, parsed.parallelism);
    assert.equal(options.memoryCost, 8_192);
    assert.deepEqual(dummyHashOptionsFor([]), { ...ARGON2ID_OPTIONS });
  });

  test("the demo's breakglass hash verifies 'breakglass'", async () => {
    const { readFileSync } = await import('node:fs');
    const demo = readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8');
    const demoHash = /passwordHash: '([^']+)'/.exec(demo)?.[1];
    assert.ok(demoHash);
    assert.equal(await verify(demoHash, 'breakglass'), true);
  });
});
