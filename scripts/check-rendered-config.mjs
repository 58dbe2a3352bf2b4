#!/usr/bin/env node
// Runs the gateway's own `check-config` on the config.yaml of every ConfigMap in rendered manifests
// (`helm template` output), so the chart can never hand the gateway a configuration it refuses.
// The Secret mount does not exist here: /run/secrets/portcullis/ is pointed at a temporary folder
// holding a stand-in for each *File the config names (an EC P-256 key for key files, random text
// otherwise), and the ${PORTCULLIS_*} variables the chart writes get stand-in values.
// check-config reads files only: it connects to no IdP, Redis or database.
//
// Usage: node scripts/check-rendered-config.mjs RENDERED.yaml
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const SECRETS_MOUNT = '/run/secrets/portcullis/';
const DATA_DIR = '/var/lib/portcullis';
const KEY_FILE_KEYS = new Set(['signingKeyFile', 'previousSigningKeyFile', 'privateKeyFile']);
const STAND_IN_ENV = {
  PORTCULLIS_REDIS_PASSWORD: 'stand-in-password',
  PORTCULLIS_REDIS_URL: 'redis://127.0.0.1:6379',
  PORTCULLIS_POSTGRES_URL: 'postgres://portcullis:stand-in@127.0.0.1:5432/portcullis',
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rendered = process.argv[2];
if (rendered === undefined) {
  console.error('usage: node scripts/check-rendered-config.mjs RENDERED.yaml');
  process.exit(2);
}

const configs = parseAllDocuments(readFileSync(rendered, 'utf8'), { version: '1.1' })
  .map((document) => document.toJS())
  .filter((doc) => doc?.kind === 'ConfigMap' && typeof doc.data?.['config.yaml'] === 'string');
if (configs.length === 0) {
  console.error(`check-rendered-config: ${rendered} has no ConfigMap with a config.yaml`);
  process.exit(1);
}

function standIn(key) {
  if (!KEY_FILE_KEYS.has(key)) return `${randomBytes(24).toString('hex')}\n`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' });
}

let failed = 0;
for (const configMap of configs) {
  const work = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  try {
    const secrets = join(work, 'secrets');
    mkdirSync(secrets);
    let text = configMap.data['config.yaml'];
    // Every `<key>File: /run/secrets/portcullis/<name>` gets a stand-in file.
    for (const match of text.matchAll(/(\w+File):\s*["']?\/run\/secrets\/portcullis\/([^\s"']+)/g)) {
      writeFileSync(join(secrets, match[2]), standIn(match[1]), { mode: 0o600 });
    }
    text = text.replaceAll(SECRETS_MOUNT, `${secrets}/`).replaceAll(DATA_DIR, join(work, 'data'));
    const file = join(work, 'config.yaml');
    writeFileSync(file, text);
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check-config', file], {
      cwd: root,
      env: { ...process.env, ...STAND_IN_ENV },
      encoding: 'utf8',
    });
    const output = `${result.stdout}${result.stderr}`.replaceAll(work, '<tmp>').trim();
    const name = `ConfigMap ${configMap.metadata?.name}`;
    if (result.status === 0) {
      console.log(`  ✓ ${name}: the gateway accepts its config.yaml\n${output.replace(/^/gm, '      ')}`);
    } else {
      failed += 1;
      console.error(`  ✗ ${name}: the gateway refuses its config.yaml\n${output.replace(/^/gm, '      ')}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
process.exit(failed === 0 ? 0 : 1);
