// The config loader (YAML → ${ENV} → *File secrets → schema → cross-checks); the CLI that uses it is
// run as a process in test/integration/cli.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

import {
  loadConfigFile,
  parseConfigText,
  type ConfigIssue,
  type LoadedConfig,
} from '../../src/config/load.js';
import { crossCheck } from '../../src/config/cross-checks.js';
import type { Config } from '../../src/config/schema.js';
import {
  configWith,
  minimalConfig,
  provider0,
  route0,
  section,
  SECRET,
  type Plain,
} from '../support/config-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'portcullis-config-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The smallest config that loads: every other key takes its default. */
function issuerOf(provider: Config['providers'][number] | undefined): string | undefined {
  return provider?.type === 'oidc' ? provider.issuer : undefined;
}

/** The provider when it is one with OAuth client credentials (every type but saml). */
function clientOf(provider: Config['providers'][number] | undefined) {
  return provider?.type === 'saml' ? undefined : provider;
}

function parse(text: string, env: NodeJS.ProcessEnv = {}, baseDir = tmp) {
  return parseConfigText(text, { env, baseDir, source: 'test.yaml' });
}

function loadOk(config: Plain | string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const result = parse(typeof config === 'string' ? config : stringify(config), env);
  if (!result.ok) assert.fail(`expected the config to load, got:\n${JSON.stringify(result.error, null, 2)}`);
  return result.value;
}

function loadRefused(config: Plain | string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  const result = parse(typeof config === 'string' ? config : stringify(config), env);
  if (result.ok) assert.fail('expected the config to be refused, but it loaded');
  return result.error;
}

function assertIssue(issues: readonly ConfigIssue[], path: string, reason: string | RegExp): void {
  const found = issues.find(
    (issue) =>
      issue.path === path &&
      (typeof reason === 'string' ? issue.message.includes(reason) : reason.test(issue.message)),
  );
  assert.ok(
    found,
    `expected an issue at ${path} matching ${String(reason)}, got:\n${JSON.stringify(issues, null, 2)}`,
  );
}

let fileCounter = 0;
function writeTemp(content: string, name = `config-${++fileCounter}.yaml`): string {
  const file = join(tmp, name);
  writeFileSync(file, content);
  return file;
}

describe('loading a valid config', () => {
  test('the minimal config loads with defaults applied', () => {
    const { config, warnings } = loadOk(minimalConfig());
    assert.deepEqual(warnings, []);
    assert.equal(config.server.publicUrl, 'https://apps.example.com');
    assert.equal(config.server.prefix, '/.portcullis');
    assert.equal(config.server.listen, '0.0.0.0:8080');
    assert.equal(config.server.trustProxy, 0);
    assert.deepEqual(config.session.secret, [SECRET]);
    assert.equal(config.session.idleTimeout, 28_800_000);
    assert.equal(config.session.absoluteTimeout, 86_400_000);
    assert.equal(config.session.store, 'memory');
    assert.equal(config.session.memory.maxSessions, 100_000);
    assert.deepEqual(config.headers, {
      user: 'X-Auth-Request-User',
      email: 'X-Auth-Request-Email',
      groups: 'X-Auth-Request-Groups',
      name: 'X-Auth-Request-Name',
      assertion: 'X-Portcullis-Assertion',
    });
    const provider = config.providers[0];
    assert.ok(provider?.type === 'oidc', 'the provider is an OIDC one');
    assert.equal(provider.clientAuth, 'client_secret_basic');
    assert.deepEqual(provider.scopes, ['openid', 'profile', 'email']);
    assert.equal(provider.insecureAllowHttpIssuer, false);
    const route = config.routes[0];
    assert.ok(route);
    assert.equal(route.path, '/');
    assert.equal(route.public, false);
    assert.deepEqual(route.allow, {
      authenticated: true,
      groups: [],
      roles: [],
      emails: [],
      emailDomains: [],
    });
    assert.deepEqual(config.groups, { default: ['all-users'], builtIn: [] });
    assert.equal(config.assertion.ttl, 300_000);
    assert.equal(config.storage.dataDir, './data');
  });

  test('durations are converted to milliseconds', () => {
    const { config } = loadOk(
      configWith((c) => Object.assign(section(c, 'session'), { idleTimeout: '15m', absoluteTimeout: '2d' })),
    );
    assert.equal(config.session.idleTimeout, 900_000);
    assert.equal(config.session.absoluteTimeout, 172_800_000);
  });

  test('JSON is accepted as well as YAML', () => {
    const { config } = loadOk(JSON.stringify(minimalConfig()));
    assert.equal(config.providers[0]?.id, 'corp');
  });

  test('the loaded config is deeply frozen', () => {
    const { config } = loadOk(minimalConfig());
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config.server as { publicUrl: string }).publicUrl = 'https://evil.example';
    }, TypeError);
    assert.throws(() => {
      (config.routes as unknown[]).push({});
    }, TypeError);
    assert.throws(() => {
      config.session.secret[0] = 'x';
    }, TypeError);
    assert.throws(() => {
      (config.routes[0]?.allow?.groups as string[]).push('admins');
    }, TypeError);
    assert.equal(config.server.publicUrl, 'https://apps.example.com');
  });

  test('loading twice gives independent configs (defaults are not shared frozen objects)', () => {
    const first = loadOk(minimalConfig()).config;
    const second = loadOk(minimalConfig()).config;
    assert.notEqual(first.headers, second.headers);
    assert.deepEqual(first.headers, second.headers);
  });
});

describe('refusals name the key path and the reason', () => {
  const cases: Array<{ name: string; config: Plain | string; path: string; reason: string | RegExp }> = [
    {
      name: 'unknown top-level key (typo sesion)',
      config: configWith((c) => {
        c.sesion = c.session;
        delete c.session;
      }),
      path: '(root)',
      reason: "unknown key 'sesion'",
    },
    {
      name: 'unknown route key (typo upstrem)',
      config: configWith((c) => {
        const route = route0(c);
        route.upstrem = route.upstream;
        delete route.upstream;
      }),
      path: 'routes.0',
      reason: "unknown key 'upstrem'",
    },
    {
      name: 'unknown provider type lists every type there is',
      config: configWith((c) => {
        provider0(c).type = 'oidcc';
      }),
      path: 'providers.0.type',
      reason: 'must be one of: oidc, okta, oauth2, entra, saml',
    },
    {
      name: 'a break-glass email that is not one address',
      config: configWith((c) => {
        const users = section(c, 'breakGlass').users as Plain[];
        (users[0] as Plain).email = 'root@evil.test@example.com';
      }),
      path: 'breakGlass.users.0.email',
      reason: 'must be one address',
    },
    {
      name: 'missing publicUrl',
      config: configWith((c) => {
        delete section(c, 'server').publicUrl;
      }),
      path: 'server.publicUrl',
      reason: 'http:// or https:// URL',
    },
    {
      name: 'publicUrl with a path',
      config: configWith((c) => {
        section(c, 'server').publicUrl = 'https://apps.example.com/portal';
      }),
      path: 'server.publicUrl',
      reason: 'must be an origin without a path',
    },
    {
      name: "bad duration '8 hours'",
      config: configWith((c) => {
        section(c, 'session').idleTimeout = '8 hours';
      }),
      path: 'session.idleTimeout',
      reason: 'must be a duration',
    },
    {
      name: 'session secret shorter than 32 characters',
      config: configWith((c) => {
        section(c, 'session').secret = 'a'.repeat(31);
      }),
      path: 'session.secret',
      reason: 'at least 32 characters',
    },
    {
      name: 'redis store without a redis section',
      config: configWith((c) => {
        section(c, 'session').store = 'redis';
      }),
      path: 'session.redis',
      reason: 'is required when session.store is redis',
    },
    {
      name: 'http issuer without insecureAllowHttpIssuer',
      config: configWith((c) => {
        provider0(c).issuer = 'http://idp.example.com';
      }),
      path: 'providers.0.issuer',
      reason: 'insecureAllowHttpIssuer',
    },
    {
      name: 'private_key_jwt without privateKeyFile',
      config: configWith((c) => {
        provider0(c).clientAuth = 'private_key_jwt';
        delete provider0(c).clientSecret;
      }),
      path: 'providers.0.privateKeyFile',
      reason: 'is required when clientAuth is private_key_jwt',
    },
    {
      name: 'client_secret_basic without clientSecret',
      config: configWith((c) => {
        delete provider0(c).clientSecret;
      }),
      path: 'providers.0.clientSecret',
      reason: 'is required when clientAuth is client_secret_basic',
    },
    {
      name: 'duplicate provider id',
      config: configWith((c) => {
        (c.providers as Plain[]).push({ ...provider0(c), issuer: 'https://other-idp.example.com' });
      }),
      path: 'providers.1.id',
      reason: "duplicates provider id 'corp'",
    },
    {
      name: 'duplicate route id',
      config: configWith((c) => {
        (c.routes as Plain[]).push({
          id: 'app',
          upstream: 'http://127.0.0.1:3001',
          allow: { authenticated: true },
        });
        (c.routes as Plain[]).push({
          id: 'app',
          path: '/other/',
          upstream: 'http://127.0.0.1:3002',
          allow: { authenticated: true },
        });
      }),
      path: 'routes.2.id',
      reason: "duplicates route id 'app'",
    },
    {
      name: "routes '/a' and '/a/' on the same host (the same segment, one would shadow the other)",
      config: configWith((c) => {
        (c.routes as Plain[]).push({ id: 'a1', path: '/a', upstream: 'http://127.0.0.1:3001', public: true });
        (c.routes as Plain[]).push({
          id: 'a2',
          path: '/A/',
          upstream: 'http://127.0.0.1:3002',
          allow: { authenticated: true },
        });
      }),
      path: 'routes.2.path',
      reason: 'matches the same requests as routes.1',
    },
    {
      name: 'two routes on the same host and path without ids',
      config: configWith((c) => {
        (c.routes as Plain[]).push({ upstream: 'http://127.0.0.1:3001', allow: { authenticated: true } });
      }),
      path: 'routes.1.id',
      reason: "duplicates route id '*/'",
    },
    {
      name: 'route inside the reserved prefix',
      config: configWith((c) => {
        route0(c).path = '/.portcullis/app/';
      }),
      path: 'routes.0.path',
      reason: 'reserved prefix /.portcullis',
    },
    {
      name: 'route exactly at a custom reserved prefix',
      config: configWith((c) => {
        section(c, 'server').prefix = '/_gw';
        route0(c).path = '/_gw';
      }),
      path: 'routes.0.path',
      reason: 'reserved prefix /_gw',
    },
    {
      name: 'public route with allow',
      config: configWith((c) => {
        route0(c).public = true;
      }),
      path: 'routes.0.allow',
      reason: 'cannot be combined with public: true',
    },
    {
      name: "headers.user set to 'Cookie'",
      config: configWith((c) => {
        c.headers = { user: 'Cookie' };
      }),
      path: 'headers.user',
      reason: "'Cookie' is a header the gateway must not reuse",
    },
    {
      name: 'a header name that is a reserved name once underscores are dashes',
      config: configWith((c) => {
        c.headers = { name: 'X_Forwarded_For' };
      }),
      path: 'headers.name',
      reason: 'must not reuse',
    },
    {
      name: 'two header keys naming the same header (X-User and x_user)',
      config: configWith((c) => {
        c.headers = { user: 'X-User', email: 'x_user' };
      }),
      path: 'headers.email',
      reason: "'x_user' is the same header as headers.user",
    },
    {
      name: 'YAML syntax error',
      config: 'server:\n  publicUrl: "https://apps.example.com\n  listen: 8080\n',
      path: '(syntax)',
      reason: /quote/i,
    },
    {
      name: 'duplicate YAML key',
      config: 'server:\n  listen: 8080\n  listen: 9090\n',
      path: '(syntax)',
      reason: /unique/,
    },
    {
      name: 'non-mapping root (a list)',
      config: '- server\n- session\n',
      path: '(root)',
      reason: 'must be a mapping',
    },
    {
      name: 'non-mapping root (a scalar)',
      config: 'hello\n',
      path: '(root)',
      reason: 'must be a mapping',
    },
    {
      name: 'empty document',
      config: '',
      path: '(root)',
      reason: 'must be a mapping',
    },
    {
      name: '${UNSET_VAR} names the key path and the variable',
      config: configWith((c) => {
        provider0(c).clientId = '${PORTCULLIS_TEST_UNSET_VAR}';
      }),
      path: 'providers.0.clientId',
      reason: 'environment variable PORTCULLIS_TEST_UNSET_VAR, which is not set',
    },
    {
      name: 'a variable set to the empty string counts as unset',
      config: configWith((c) => {
        provider0(c).clientId = 'id-${EMPTY_VAR}';
      }),
      path: 'providers.0.clientId',
      reason: 'EMPTY_VAR',
    },
    {
      name: 'secretFile and secret both set',
      config: configWith((c) => {
        section(c, 'session').secretFile = 'whatever.txt';
      }),
      path: 'session.secretFile',
      reason: 'cannot be combined with session.secret',
    },
    {
      name: 'clientSecretFile that does not exist',
      config: configWith((c) => {
        delete provider0(c).clientSecret;
        provider0(c).clientSecretFile = 'no-such-secret-file.txt';
      }),
      path: 'providers.0.clientSecretFile',
      reason: /cannot read .*no-such-secret-file\.txt: ENOENT/,
    },
  ];

  for (const { name, config, path, reason } of cases) {
    test(name, () => {
      const issues = loadRefused(config, { EMPTY_VAR: '' });
      assertIssue(issues, path, reason);
    });
  }

  test('every problem is reported at once', () => {
    const issues = loadRefused(
      configWith((c) => {
        section(c, 'session').secret = 'too-short';
        section(c, 'session').idleTimeout = '8 hours';
        c.extra = true;
      }),
    );
    assert.ok(issues.length >= 3, `expected at least 3 issues, got ${JSON.stringify(issues)}`);
    assertIssue(issues, 'session.secret', 'at least 32 characters');
    assertIssue(issues, 'session.idleTimeout', 'must be a duration');
    assertIssue(issues, '(root)', "unknown key 'extra'");
  });

  test('every cross-check problem is reported at once', () => {
    const issues = loadRefused(
      configWith((c) => {
        provider0(c).issuer = 'http://idp.example.com';
        route0(c).path = '/.portcullis/x';
        c.headers = { user: 'Host' };
      }),
    );
    assert.ok(issues.length >= 3, `expected at least 3 issues, got ${JSON.stringify(issues)}`);
    assertIssue(issues, 'providers.0.issuer', 'plain http');
    assertIssue(issues, 'routes.0.path', 'reserved prefix');
    assertIssue(issues, 'headers.user', 'must not reuse');
  });

  test('every unset environment variable is reported at once', () => {
    const issues = loadRefused(
      configWith((c) => {
        provider0(c).clientId = '${UNSET_A}';
        section(c, 'server').publicUrl = 'https://${UNSET_B}';
        route0(c).upstream = '${UNSET_C}';
      }),
    );
    assert.deepEqual(
      issues.map((issue) => issue.path),
      ['server.publicUrl', 'providers.0.clientId', 'routes.0.upstream'],
    );
  });

  test('an unset variable does not hide a schema problem elsewhere', () => {
    const issues = loadRefused(
      configWith((c) => {
        provider0(c).clientId = '${UNSET_A}';
        section(c, 'session').idleTimeout = '8 hours';
      }),
    );
    assertIssue(issues, 'providers.0.clientId', 'UNSET_A');
    assertIssue(issues, 'session.idleTimeout', 'must be a duration');
    assert.equal(issues.filter((issue) => issue.path === 'providers.0.clientId').length, 1);
  });

  test('a secret value never appears in any issue', () => {
    const leaky = 'TOPSECRET-do-not-print';
    const issues = loadRefused(
      configWith((c) => {
        section(c, 'session').secret = leaky; // too short
        section(c, 'session').store = leaky; // not an enum member
        provider0(c).clientSecret = 12345; // wrong type
      }),
    );
    assert.ok(issues.length >= 3, JSON.stringify(issues));
    assertIssue(issues, 'session.secret', 'at least 32 characters');
    for (const issue of issues) {
      assert.ok(!issue.message.includes(leaky), `secret in message: ${issue.message}`);
      assert.ok(!issue.message.includes('TOPSECRET'), `secret in message: ${issue.message}`);
    }
  });

  test('a secret read from a file is not echoed, and the issue names the *File key', () => {
    const secretFile = writeTemp('TOPSECRET-from-file\n', 'short-secret.txt');
    const issues = loadRefused(
      configWith((c) => {
        delete section(c, 'session').secret;
        section(c, 'session').secretFile = secretFile;
      }),
    );
    assertIssue(issues, 'session.secretFile (file content)', 'at least 32 characters');
    for (const issue of issues) assert.ok(!issue.message.includes('TOPSECRET'), issue.message);
  });
});

describe('${ENV} substitution and *File secrets', () => {
  test('${VAR} is replaced by the environment value', () => {
    const { config } = loadOk(
      configWith((c) => {
        provider0(c).clientId = '${CLIENT_ID}';
        provider0(c).issuer = 'https://${IDP_HOST}/realms/x';
      }),
      { CLIENT_ID: 'from-env', IDP_HOST: 'idp.internal.example' },
    );
    assert.equal(clientOf(config.providers[0])?.clientId, 'from-env');
    assert.equal(issuerOf(config.providers[0]), 'https://idp.internal.example/realms/x');
  });

  test('${UNSET:-fallback} uses the fallback', () => {
    const { config } = loadOk(
      configWith((c) => {
        provider0(c).clientId = '${PORTCULLIS_TEST_UNSET:-fallback}';
      }),
    );
    assert.equal(clientOf(config.providers[0])?.clientId, 'fallback');
  });

  test('${SET:-fallback} prefers the environment value', () => {
    const { config } = loadOk(
      configWith((c) => {
        provider0(c).clientId = '${SET_VAR:-fallback}';
      }),
      { SET_VAR: 'real' },
    );
    assert.equal(clientOf(config.providers[0])?.clientId, 'real');
  });

  test('$${LITERAL} stays a literal ${LITERAL}', () => {
    const { config } = loadOk(
      configWith((c) => {
        provider0(c).clientId = 'pre-$${LITERAL}-post';
      }),
      { LITERAL: 'must-not-be-used' },
    );
    assert.equal(clientOf(config.providers[0])?.clientId, 'pre-${LITERAL}-post');
  });

  test('an environment value cannot inject YAML keys', () => {
    const { config } = loadOk(
      configWith((c) => {
        provider0(c).clientId = '${INJECT}';
      }),
      { INJECT: 'x\nclientAuth: private_key_jwt' },
    );
    assert.equal(clientOf(config.providers[0])?.clientId, 'x\nclientAuth: private_key_jwt');
    assert.equal(clientOf(config.providers[0])?.clientAuth, 'client_secret_basic');
  });

  test('clientSecretFile is read relative to the config directory, trailing newline stripped', () => {
    writeTemp('s3cret-from-file\n', 'client-secret.txt');
    const { config } = loadOk(
      configWith((c) => {
        delete provider0(c).clientSecret;
        provider0(c).clientSecretFile = 'client-secret.txt';
      }),
    );
    assert.equal(clientOf(config.providers[0])?.clientSecret, 's3cret-from-file');
  });

  test('only the trailing newline is stripped: other whitespace is part of the secret', () => {
    writeTemp(' spaced secret \n', 'client-secret-spaces.txt');
    const { config } = loadOk(
      configWith((c) => {
        delete provider0(c).clientSecret;
        provider0(c).clientSecretFile = 'client-secret-spaces.txt';
      }),
    );
    assert.equal(clientOf(config.providers[0])?.clientSecret, ' spaced secret ');
  });

  test('clientSecretFile with a CRLF ending, absolute path', () => {
    const file = writeTemp('crlf-secret\r\n', 'client-secret-crlf.txt');
    const { config } = loadOk(
      configWith((c) => {
        delete provider0(c).clientSecret;
        provider0(c).clientSecretFile = file;
      }),
    );
    assert.equal(clientOf(config.providers[0])?.clientSecret, 'crlf-secret');
  });

  test('session.secretFile with several lines rotates secrets (first signs)', () => {
    const second = 'Z'.repeat(40);
    writeTemp(`${SECRET}\n${second}\n`, 'session-secrets.txt');
    const { config } = loadOk(
      configWith((c) => {
        delete section(c, 'session').secret;
        section(c, 'session').secretFile = 'session-secrets.txt';
      }),
    );
    assert.deepEqual(config.session.secret, [SECRET, second]);
  });

  test('loadConfigFile reads *File keys relative to the config file', () => {
    const dir = join(tmp, 'nested');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'secret.txt'), 'nested-secret\n');
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(
      file,
      stringify(
        configWith((c) => {
          delete provider0(c).clientSecret;
          provider0(c).clientSecretFile = 'secret.txt';
        }),
      ),
    );
    const result = loadConfigFile(file, {});
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
    assert.equal(clientOf(result.value.config.providers[0])?.clientSecret, 'nested-secret');
    assert.equal(result.value.source, file);
  });

  test('loadConfigFile on a missing file is refused with (file)', () => {
    const result = loadConfigFile(join(tmp, 'absent.yaml'), {});
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assertIssue(result.error, '(file)', 'ENOENT');
  });
});

describe('warnings', () => {
  test('a route with no allow warns, naming routes.N.allow', () => {
    const { warnings } = loadOk(
      configWith((c) => {
        (c.routes as Plain[]).push({ path: '/nobody/', upstream: 'http://127.0.0.1:3001' });
      }),
    );
    assert.deepEqual(
      warnings.map((w) => w.path),
      ['routes.1.allow'],
    );
    assert.match(warnings[0]?.message ?? '', /names nobody/);
  });

  test('an allow section that names nobody warns too', () => {
    const { warnings } = loadOk(
      configWith((c) => {
        route0(c).allow = { authenticated: false, groups: [] };
      }),
    );
    assertIssue(warnings, 'routes.0.allow', 'names nobody');
  });

  test('a public route does not warn about allow', () => {
    const { warnings } = loadOk(
      configWith((c) => {
        (c.routes as Plain[]).push({ path: '/public/', public: true, upstream: 'http://127.0.0.1:3001' });
      }),
    );
    assert.deepEqual(warnings, []);
  });

  test('an http non-loopback publicUrl warns', () => {
    const { warnings } = loadOk(
      configWith((c) => {
        section(c, 'server').publicUrl = 'http://apps.example.com';
      }),
    );
    assertIssue(warnings, 'server.publicUrl', 'plain http');
  });

  for (const url of [
    'http://127.0.0.1:8080',
    'http://localhost:8080',
    'http://app.localhost',
    'http://[::1]:8080',
  ]) {
    test(`an http loopback publicUrl (${url}) does not warn`, () => {
      const { warnings } = loadOk(
        configWith((c) => {
          section(c, 'server').publicUrl = url;
        }),
      );
      assert.deepEqual(warnings, []);
    });
  }

  test('insecureAllowHttpIssuer accepts an http issuer with a warning', () => {
    const { config, warnings } = loadOk(
      configWith((c) => {
        provider0(c).issuer = 'http://127.0.0.1:9000';
        provider0(c).insecureAllowHttpIssuer = true;
      }),
    );
    assert.equal(issuerOf(config.providers[0]), 'http://127.0.0.1:9000');
    assertIssue(warnings, 'providers.0.insecureAllowHttpIssuer', 'plain-HTTP issuer');
  });

  test('crossCheck on its own reports errors and warnings separately', () => {
    const { config } = loadOk(minimalConfig());
    const changed = structuredClone(config);
    changed.server.publicUrl = 'http://apps.example.com';
    changed.session.store = 'redis';
    const { errors, warnings } = crossCheck(changed);
    assert.deepEqual(
      errors.map((e) => e.path),
      ['session.redis'],
    );
    assert.deepEqual(warnings.map((w) => w.path).sort(), ['assertion.signingKey', 'server.publicUrl']);
  });
});
