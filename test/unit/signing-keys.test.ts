// Assertion signing keys (configured or generated, rotated, published) and the minted assertions.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { createAssertionMinter } from '../../src/assertion/assertion.js';
import { loadSigningKeys, SigningKeyError, type SigningKeyRing } from '../../src/assertion/signing-keys.js';
import { assertionSchema } from '../../src/config/schema.js';
import { FakeClock } from '../support/fake-clock.js';
import { aliceIdentity } from '../support/identities.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);
const ISSUER = 'https://apps.example.com';

const root = mkdtempSync(join(tmpdir(), 'portcullis-keys-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCounter = 0;
const freshDataDir = () => join(root, `data-${++dirCounter}`);

const generatedConfig = assertionSchema.parse({});

const pem = (key: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
  key.export({ format: 'pem', type: 'pkcs8' }).toString();
const p256Pem = () => pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

const ALICE = aliceIdentity();

function verifyWith(ring: SigningKeyRing, token: string, audience: string, at: number) {
  return jwtVerify(token, createLocalJWKSet(ring.jwks), {
    algorithms: ['ES256'],
    issuer: ISSUER,
    audience,
    currentDate: new Date(at),
  });
}

describe('generated signing keys', () => {
  test('with no configured key, a key file is generated with mode 0600 and reused on the next load', async () => {
    const dataDir = join(freshDataDir(), 'nested', 'state');
    const clock = new FakeClock(T0);
    const first = await loadSigningKeys(generatedConfig, dataDir, clock);
    const file = join(dataDir, 'signing-keys.json');
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o077, 0, 'the data directory is not readable by others');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as {
      version: number;
      keys: Array<{ createdAt: number }>;
    };
    assert.equal(stored.version, 1);
    assert.deepEqual(
      stored.keys.map((k) => k.createdAt),
      [T0],
    );

    clock.advance(DAY);
    const second = await loadSigningKeys(generatedConfig, dataDir, clock);
    assert.equal(second.current.kid, first.current.kid);
    assert.equal(second.previous, null);
    assert.equal(second.jwks.keys.length, 1);
    assert.equal(second.jwks.keys[0]?.kid, first.current.kid);
  });

  test('the JWKS publishes public ES256 keys only', async () => {
    const ring = await loadSigningKeys(generatedConfig, freshDataDir(), new FakeClock(T0));
    const [key] = ring.jwks.keys;
    assert.ok(key);
    assert.equal(key.kty, 'EC');
    assert.equal(key.crv, 'P-256');
    assert.equal(key.alg, 'ES256');
    assert.equal(key.use, 'sig');
    assert.equal(key.kid, ring.current.kid);
    assert.equal('d' in key, false, 'the private scalar must never be published');
    assert.match(ring.current.kid, /^[A-Za-z0-9_-]{43}$/);
  });

  test('after rotateAfter a new key signs and the JWKS publishes the new and the previous kid', async () => {
    const dataDir = freshDataDir();
    const clock = new FakeClock(T0);
    const first = await loadSigningKeys(generatedConfig, dataDir, clock);

    clock.advance(generatedConfig.rotateAfter - 1);
    assert.equal((await loadSigningKeys(generatedConfig, dataDir, clock)).current.kid, first.current.kid);

    clock.advance(1);
    const rotated = await loadSigningKeys(generatedConfig, dataDir, clock);
    assert.notEqual(rotated.current.kid, first.current.kid);
    assert.equal(rotated.previous?.kid, first.current.kid);
    assert.deepEqual(
      rotated.jwks.keys.map((k) => k.kid),
      [rotated.current.kid, first.current.kid],
    );

    // The rotation was persisted: the next load keeps both.
    const reloaded = await loadSigningKeys(generatedConfig, dataDir, clock);
    assert.equal(reloaded.current.kid, rotated.current.kid);
    assert.equal(reloaded.jwks.keys.length, 2);
  });

  test('a second rotation keeps only the two newest keys', async () => {
    const dataDir = freshDataDir();
    const clock = new FakeClock(T0);
    const config = assertionSchema.parse({ rotateAfter: '1d' });
    const k1 = (await loadSigningKeys(config, dataDir, clock)).current.kid;
    clock.advance(DAY);
    const k2 = (await loadSigningKeys(config, dataDir, clock)).current.kid;
    clock.advance(DAY);
    const ring = await loadSigningKeys(config, dataDir, clock);
    assert.equal(new Set([k1, k2, ring.current.kid]).size, 3);
    const stored = JSON.parse(readFileSync(join(dataDir, 'signing-keys.json'), 'utf8')) as {
      keys: unknown[];
    };
    assert.equal(stored.keys.length, 2, 'the key file keeps the current and the previous key only');
    assert.deepEqual(
      ring.jwks.keys.map((k) => k.kid),
      [ring.current.kid, k2],
    );
  });

  for (const [name, content] of [
    ['not JSON', 'this is not json'],
    ['another JSON shape', '{"keys": "nope"}'],
    ['an unknown version', '{"version": 2, "keys": []}'],
  ] as const) {
    test(`a corrupt key file (${name}) is refused, not silently replaced`, async () => {
      const dataDir = freshDataDir();
      mkdirSync(dataDir, { recursive: true });
      const file = join(dataDir, 'signing-keys.json');
      writeFileSync(file, content);
      await assert.rejects(loadSigningKeys(generatedConfig, dataDir, new FakeClock(T0)), (err: unknown) => {
        assert.ok(err instanceof SigningKeyError);
        assert.match(err.message, /is not a Portcullis signing key file/);
        assert.ok(err.message.includes(file));
        return true;
      });
      assert.equal(readFileSync(file, 'utf8'), content);
    });
  }
});

describe('configured signing keys', () => {
  test('a configured P-256 key is used as is, and nothing is written to dataDir', async () => {
    const dataDir = freshDataDir();
    const current = p256Pem();
    const previous = p256Pem();
    const config = assertionSchema.parse({ signingKey: current, previousSigningKey: previous });
    const ring = await loadSigningKeys(config, dataDir, new FakeClock(T0));
    const again = await loadSigningKeys(config, dataDir, new FakeClock(T0 + 400 * DAY));
    assert.equal(again.current.kid, ring.current.kid);
    assert.equal(again.previous?.kid, ring.previous?.kid);
    assert.notEqual(ring.current.kid, ring.previous?.kid);
    assert.equal(ring.jwks.keys.length, 2);
    assert.equal(existsSync(dataDir), false);
  });

  const refusals: Array<[string, () => Record<string, string>, string]> = [
    [
      'an RSA signingKey',
      () => ({ signingKey: pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey) }),
      'assertion.signingKey',
    ],
    [
      'an EC P-384 signingKey',
      () => ({ signingKey: pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey) }),
      'assertion.signingKey',
    ],
    [
      'an Ed25519 signingKey',
      () => ({ signingKey: pem(generateKeyPairSync('ed25519').privateKey) }),
      'assertion.signingKey',
    ],
    [
      'an RSA previousSigningKey',
      () => ({
        signingKey: p256Pem(),
        previousSigningKey: pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
      }),
      'assertion.previousSigningKey',
    ],
  ];
  for (const [name, keys, configKey] of refusals) {
    test(`${name} is refused with an error naming ${configKey}`, async () => {
      const config = assertionSchema.parse(keys());
      await assert.rejects(loadSigningKeys(config, freshDataDir(), new FakeClock(T0)), (err: unknown) => {
        assert.ok(err instanceof SigningKeyError);
        assert.ok(err.message.startsWith(`${configKey}:`), err.message);
        assert.match(err.message, /EC P-256/);
        return true;
      });
    });
  }
});

describe('assertions', () => {
  async function setup(ttl = '5m') {
    const clock = new FakeClock(T0);
    const dataDir = freshDataDir();
    const ring = await loadSigningKeys(generatedConfig, dataDir, clock);
    const config = assertionSchema.parse({ ttl });
    const minter = createAssertionMinter({ keys: ring, issuer: ISSUER, ttlMs: config.ttl, clock });
    return { clock, dataDir, ring, minter, ttlMs: config.ttl };
  }

  test('the minted assertion verifies against the JWKS and carries the identity', async () => {
    const { ring, minter, clock } = await setup();
    const token = await minter.assertionFor('sess-1', ALICE, 'grafana');
    const { payload, protectedHeader } = await verifyWith(ring, token, 'grafana', clock.now());
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(protectedHeader.kid, ring.current.kid);
    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.aud, 'grafana');
    assert.equal(payload.sub, 'corp:alice-sub');
    assert.deepEqual(payload.groups, ['admins', 'users']);
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.name, 'Alice');
    assert.equal(payload.preferred_username, 'alice');
    assert.equal(payload.idp, 'corp');
    assert.equal(payload.iat, Math.floor(T0 / 1000));
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
  });

  test('the assertion does not verify for another audience, after expiry, or against a foreign JWKS', async () => {
    const { ring, minter, clock } = await setup();
    const token = await minter.assertionFor('sess-1', ALICE, 'grafana');
    await assert.rejects(verifyWith(ring, token, 'wiki', clock.now()), {
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    });
    await assert.rejects(verifyWith(ring, token, 'grafana', clock.now() + 301_000), {
      code: 'ERR_JWT_EXPIRED',
    });
    const foreign = await loadSigningKeys(generatedConfig, freshDataDir(), clock);
    await assert.rejects(verifyWith(foreign, token, 'grafana', clock.now()), {
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
  });

  test('exp - iat equals the configured ttl', async () => {
    const { ring, minter, clock } = await setup('90s');
    const token = await minter.assertionFor('sess-1', ALICE, 'grafana');
    const { payload } = await verifyWith(ring, token, 'grafana', clock.now());
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 90);
  });

  test('a token is reused for the same session and audience until half its lifetime has passed', async () => {
    const { ring, minter, clock, ttlMs } = await setup();
    const first = await minter.assertionFor('sess-1', ALICE, 'grafana');

    clock.advance(ttlMs / 2 - 1);
    const cached = minter.assertionFor('sess-1', ALICE, 'grafana');
    assert.equal(typeof cached, 'string', 'a cached token is answered synchronously');
    assert.equal(cached, first);

    clock.advance(1);
    const renewed = await minter.assertionFor('sess-1', ALICE, 'grafana');
    assert.notEqual(renewed, first);
    const { payload } = await verifyWith(ring, renewed, 'grafana', clock.now());
    assert.equal(payload.iat, Math.floor((T0 + ttlMs / 2) / 1000));
    assert.equal(minter.assertionFor('sess-1', ALICE, 'grafana'), renewed);
  });

  test('a different audience or session gets a different token', async () => {
    const { ring, minter, clock } = await setup();
    const grafana = await minter.assertionFor('sess-1', ALICE, 'grafana');
    const wiki = await minter.assertionFor('sess-1', ALICE, 'wiki');
    assert.notEqual(wiki, grafana);
    assert.equal((await verifyWith(ring, wiki, 'wiki', clock.now())).payload.aud, 'wiki');
    assert.equal(minter.assertionFor('sess-1', ALICE, 'grafana'), grafana);
    const otherSession = await minter.assertionFor('sess-2', { ...ALICE, subject: 'corp:bob' }, 'grafana');
    assert.notEqual(otherSession, grafana);
    assert.equal((await verifyWith(ring, otherSession, 'grafana', clock.now())).payload.sub, 'corp:bob');
  });

  test('a token signed with the previous key still verifies after rotation', async () => {
    const { ring, minter, clock, dataDir } = await setup();
    const before = await minter.assertionFor('sess-1', ALICE, 'grafana');
    const mintedAt = clock.now();

    clock.advance(generatedConfig.rotateAfter);
    const rotated = await loadSigningKeys(generatedConfig, dataDir, clock);
    assert.notEqual(rotated.current.kid, ring.current.kid);
    assert.equal(decodeProtectedHeader(before).kid, ring.current.kid);
    const { payload } = await verifyWith(rotated, before, 'grafana', mintedAt);
    assert.equal(payload.sub, 'corp:alice-sub');

    const newMinter = createAssertionMinter({ keys: rotated, issuer: ISSUER, ttlMs: 300_000, clock });
    const afterRotation = await newMinter.assertionFor('sess-1', ALICE, 'grafana');
    assert.equal(decodeProtectedHeader(afterRotation).kid, rotated.current.kid);
    await verifyWith(rotated, afterRotation, 'grafana', clock.now());
  });
});
