// Small pieces of the OpenID Connect flow shared by providers built on openid-client.

import { createPrivateKey, type webcrypto } from 'node:crypto';

/**
 * A PEM private key (PKCS#8, PKCS#1 or SEC1) as a WebCrypto signing key for private_key_jwt:
 * RSA keys sign RS256, EC keys ES256 (P-256), which are the algorithms openid-client derives from them.
 */
export async function importClientSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const keyObject = createPrivateKey(pem);
  const algorithm =
    keyObject.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const pkcs8 = keyObject.export({ format: 'der', type: 'pkcs8' });
  return crypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
}
