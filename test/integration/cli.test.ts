// The CLI as a user runs it: `portcullis check-config` and `serve --config` on good, bad and missing
// files, with the file named or in PORTCULLIS_CONFIG. Each case starts the real entry point.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { runPortcullis } from '../support/cli.js';
import { configWith, minimalConfig, provider0, route0, section } from '../support/config-fixtures.js';
import { freePort } from '../support/free-port.js';

const tmp = mkdtempSync(join(tmpdir(), 'portcullis-cli-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let fileCounter = 0;
function writeTemp(content: string, name = `config-${++fileCounter}.yaml`): string {
  const file = join(tmp, name);
  writeFileSync(file, content);
  return file;
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('CLI', () => {
  test('check-config on a good file exits 0 and prints the redirect URI', async () => {
    const file = writeTemp(stringify(minimalConfig()), 'good.yaml');
    const result = await runPortcullis(['check-config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /ok \(1 provider\(s\), 1 route\(s\), session store memory\)/);
    assert.ok(
      result.stdout.includes('redirect URI https://apps.example.com/.portcullis/callback/corp'),
      result.stdout,
    );
    assert.ok(
      result.stdout.includes('post-logout redirect URI https://apps.example.com/.portcullis/logged-out'),
    );
  });

  test('check-config on a bad file exits non-zero and names the key on stderr', async () => {
    const file = writeTemp(
      stringify(
        configWith((c) => {
          section(c, 'session').idleTimeout = '8 hours';
        }),
      ),
      'bad.yaml',
    );
    const result = await runPortcullis(['check-config', file]);
    assert.notEqual(result.code, 0);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /configuration refused/);
    assert.match(result.stderr, /session\.idleTimeout: must be a duration/);
    assert.doesNotMatch(result.stdout, /redirect URI/);
  });

  test('check-config prints warnings on stderr but still exits 0', async () => {
    const file = writeTemp(
      stringify(
        configWith((c) => {
          delete route0(c).allow;
        }),
      ),
      'warn.yaml',
    );
    const result = await runPortcullis(['check-config', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /routes\.0\.allow: names nobody/);
  });

  test('serve --config with a bad file exits non-zero without listening', async () => {
    const port = await freePort();
    const file = writeTemp(
      stringify(
        configWith((c) => {
          section(c, 'server').listen = `127.0.0.1:${port}`;
          c.storage = { dataDir: join(tmp, 'serve-data') };
          delete provider0(c).clientSecret; // refused: client_secret_basic needs a secret
        }),
      ),
      'bad-serve.yaml',
    );
    const result = await runPortcullis(['serve', '--config', file]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /configuration refused, not starting/);
    assert.match(result.stderr, /providers\.0\.clientSecret/);
    assert.equal(await isListening(port), false);
  });

  test('PORTCULLIS_CONFIG is used when no file argument is given', async () => {
    const file = writeTemp(stringify(minimalConfig()), 'from-env.yaml');
    const result = await runPortcullis(['check-config'], { env: { PORTCULLIS_CONFIG: file } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.startsWith(`${file}: ok`), result.stdout);
  });

  test('PORTCULLIS_CONFIG pointing at a bad file is refused', async () => {
    const file = writeTemp('- not a mapping\n', 'bad-from-env.yaml');
    const result = await runPortcullis(['check-config'], { env: { PORTCULLIS_CONFIG: file } });
    assert.equal(result.code, 1);
    assert.ok(result.stderr.includes(`${file}: configuration refused`), result.stderr);
    assert.match(result.stderr, /\(root\): must be a mapping/);
  });

  test('no file argument and no PORTCULLIS_CONFIG exits 2', async () => {
    const result = await runPortcullis(['check-config']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no config file/);
  });
});
