// The ES256 keys that sign identity assertions. Either given in config (signingKey, plus the
// previousSigningKey it replaced), or generated and kept in storage.dataDir/signing-keys.json and
// rotated after assertion.rotateAfter. /jwks.json always publishes the current and the previous
// public key, so an app that cached the JWKS keeps verifying across a rotation.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { AssertionConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

export interface SigningKeyRing {
  readonly current: SigningKey;
  readonly previous: SigningKey | null;
  /** The JSON Web Key Set apps verify with. */
  readonly jwks: { keys: JWK[] };
}

interface StoredKey {
  createdAt: number;
  privateJwk: JWK;
}

interface KeysFile {
  version: 1;
  keys: StoredKey[]; // newest first
}

export class SigningKeyError extends Error {}

export async function loadSigningKeys(
  config: AssertionConfig,
  dataDir: string,
  clock: Clock,
): Promise<SigningKeyRing> {
  if (config.signingKey !== undefined) {
    const current = await signingKeyFrom(createPrivateKey(config.signingKey), 'assertion.signingKey');
    const previous =
      config.previousSigningKey === undefined
        ? null
        : await signingKeyFrom(createPrivateKey(config.previousSigningKey), 'assertion.previousSigningKey');
    return ring(current, previous);
  }
  return loadOrGenerateKeys(join(dataDir, 'signing-keys.json'), config.rotateAfter, clock);
}

async function loadOrGenerateKeys(
  file: string,
  rotateAfterMs: number,
  clock: Clock,
): Promise<SigningKeyRing> {
  const stored = readKeysFile(file);
  const now = clock.now();
  const newest = stored.keys[0];
  let keys = stored.keys;
  if (newest === undefined || now - newest.createdAt >= rotateAfterMs) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys = [{ createdAt: now, privateJwk: privateKey.export({ format: 'jwk' }) as JWK }, ...keys].slice(0, 2);
    writeKeysFile(file, { version: 1, keys });
  }
  const [currentStored, previousStored] = keys as [StoredKey, ...StoredKey[]];
  const current = await signingKeyFrom(
    createPrivateKey({ key: currentStored.privateJwk, format: 'jwk' }),
    file,
  );
  const previous =
    previousStored === undefined
      ? null
      : await signingKeyFrom(createPrivateKey({ key: previousStored.privateJwk, format: 'jwk' }), file);
  return ring(current, previous);
}

function readKeysFile(file: string): KeysFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: [] };
    throw new SigningKeyError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; keys?: unknown };
    if (parsed.version !== 1 || !Array.isArray(parsed.keys)) throw new Error('unexpected shape');
    return parsed as KeysFile;
  } catch {
    // Refuse rather than silently replace: replacing would break every app that cached the old key.
    throw new SigningKeyError(
      `${file} is not a Portcullis signing key file; move it away to generate a new key`,
    );
  }
}

function writeKeysFile(file: string, content: KeysFile): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(content), { mode: 0o600 });
  renameSync(temporary, file); // atomic: a crash never leaves a half-written key file
}

async function signingKeyFrom(privateKey: KeyObject, source: string): Promise<SigningKey> {
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SigningKeyError(
      `${source}: must be an EC P-256 private key (assertions are signed with ES256)`,
    );
  }
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const base = { kty, crv, x, y } as JWK;
  const kid = await calculateJwkThumbprint(base, 'sha256');
  return { kid, privateKey, publicJwk: { ...base, kid, alg: 'ES256', use: 'sig' } };
}

function ring(current: SigningKey, previous: SigningKey | null): SigningKeyRing {
  const keys =
    previous === null || previous.kid === current.kid
      ? [current.publicJwk]
      : [current.publicJwk, previous.publicJwk];
  return { current, previous, jwks: { keys } };
}
