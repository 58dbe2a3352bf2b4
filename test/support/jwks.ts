// Signing keys as an identity provider or API would hold them: a key pair, its public JWK (kid, alg,
// use) for a JWKS, and a JWT signer; serveJwks() publishes keys on a loopback URL.
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { SignJWT, type JWTPayload } from 'jose';
import { closeServer, listen } from './http-server.js';

export type TestKeyAlg = 'RS256' | 'ES256';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: TestKeyAlg;
  use: 'sig';
}

export interface TestSigningKey {
  kid: string;
  alg: TestKeyAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWKS lists it. */
  publicJwk: PublicJwk;
  /** The private key as a JWK with kid, alg and use (what oidc-provider's `jwks` option takes). */
  privateJwk(): JsonWebKey & { kid: string; alg: TestKeyAlg; use: 'sig' };
  /** The private key in PKCS#8 PEM (what a config's *KeyFile holds). */
  privatePem(): string;
  /** Signs `claims` (exactly these; no defaults) with this key, under its kid unless `kid` is given. */
  sign(claims: JWTPayload, options?: { kid?: string; typ?: string }): Promise<string>;
}

/** A fresh RSA-2048 (RS256) or P-256 (ES256) key pair under `kid`. */
export function newSigningKey(alg: TestKeyAlg, kid: string): TestSigningKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    privateJwk: () => ({ ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }),
    privatePem: () => privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    sign: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({
          alg,
          kid: options.kid ?? kid,
          ...(options.typ === undefined ? {} : { typ: options.typ }),
        })
        .sign(privateKey),
  };
}

export interface JwksServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The JWKS document's URL: origin + path. */
  url: string;
  close(): Promise<void>;
}

/** Serves `{ keys }` as JSON at `path` on 127.0.0.1 (404 elsewhere). */
export async function serveJwks(keys: readonly object[], path = '/jwks.json'): Promise<JwksServer> {
  const server = createServer((req, res) => {
    if (req.url === path) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    } else res.writeHead(404).end();
  });
  const origin = `http://127.0.0.1:${await listen(server)}`;
  return { origin, url: `${origin}${path}`, close: () => closeServer(server) };
}
