// The shipped configs are documentation: they must load. config/example.yaml references secret
// files under /run/secrets/; here they are written to a temp folder with valid stand-in values.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatIssues, parseConfigText } from '../../src/config/load.js';

const root = new URL('../../', import.meta.url);

test('config/example.yaml loads once its secret files exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-example-'));
  try {
    const demoHash = /passwordHash: ['"]?([^'"\s]+)/.exec(
      readFileSync(new URL('config/demo.yaml', root), 'utf8'),
    )?.[1];
    assert.ok(demoHash, 'demo.yaml carries a break-glass hash');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const secrets: Record<string, string> = {
      'portcullis-session': randomBytes(32).toString('hex'),
      'corp-client-secret': 'secret',
      'portcullis-root-password-hash': demoHash,
      'assertion-key.pem': String(ec),
      'assertion-key-old.pem': String(ec),
      'corp-client-key.pem': String(ec),
    };
    for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dir, name), value);
    const text = readFileSync(new URL('config/example.yaml', root), 'utf8').replaceAll(
      '/run/secrets/',
      `${dir}/`,
    );
    const loaded = parseConfigText(text, { env: {}, baseDir: dir, source: 'example.yaml' });
    assert.ok(loaded.ok, loaded.ok ? '' : formatIssues(loaded.error));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config/demo.yaml loads with the demo environment', () => {
  const text = readFileSync(new URL('config/demo.yaml', root), 'utf8');
  const loaded = parseConfigText(text, {
    env: { PORTCULLIS_SESSION_SECRET: randomBytes(32).toString('hex') },
    baseDir: '.',
    source: 'demo.yaml',
  });
  assert.ok(loaded.ok, loaded.ok ? '' : formatIssues(loaded.error));
});
