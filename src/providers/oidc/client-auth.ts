// How the gateway authenticates itself at a token endpoint (RFC 6749 §2.3, OIDC Core §9): one module
// for every provider on openid-client, so each method behaves the same whatever the IdP.
import { createPrivateKey, type webcrypto } from 'node:crypto';
import * as client from 'openid-client';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** The credential fields every provider config shares (config/schema-parts.ts clientCredentialFields). */
export interface ClientCredentials {
  readonly clientAuth: ClientAuthMethod;
  readonly clientSecret?: string | undefined;
  /** PEM private key for private_key_jwt. */
  readonly privateKey?: string | undefined;
  /** The kid the IdP registered for privateKey (Entra: the certificate's thumbprint). */
  readonly privateKeyId?: string | undefined;
}

export interface PrivateKeyJwtOptions {
  /**
   * Entra's rules for the client assertion: its `aud` is the token endpoint it is sent to
   * (openid-client puts the issuer there, which for multi-tenant apps is a template), and the
   * certificate is found by its thumbprint in `x5t` (SHA-1) or `x5t#S256`, given as privateKeyId.
   */
  readonly entra?: boolean;
}

export async function createClientAuth(
  credentials: ClientCredentials,
  options: PrivateKeyJwtOptions = {},
): Promise<client.ClientAuth> {
  switch (credentials.clientAuth) {
    case 'client_secret_basic':
    case 'client_secret_post':
      return secretClientAuth(credentials.clientAuth, credentials.clientSecret);
    case 'private_key_jwt': {
      const key = await importClientSigningKey(credentials.privateKey ?? '');
      const keyId = credentials.privateKeyId;
      const signingKey = keyId === undefined ? key : { key, kid: keyId };
      if (options.entra !== true) return client.PrivateKeyJwt(signingKey);
      const thumbprintHeader = keyId === undefined ? null : thumbprintHeaderOf(keyId);
      return (server, clientMetadata, body, headers) =>
        client.PrivateKeyJwt(signingKey, {
          [client.modifyAssertion]: (header, payload) => {
            payload['aud'] = server.token_endpoint;
            if (thumbprintHeader !== null && keyId !== undefined) header[thumbprintHeader] = keyId;
          },
        })(server, clientMetadata, body, headers);
    }
  }
}

/** The shared-secret methods: in the Authorization header (basic) or the form body (post). */
export function secretClientAuth(
  method: 'client_secret_basic' | 'client_secret_post',
  clientSecret: string | undefined,
): client.ClientAuth {
  return method === 'client_secret_basic'
    ? client.ClientSecretBasic(clientSecret)
    : client.ClientSecretPost(clientSecret);
}

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

/** x5t for a base64url SHA-1 certificate thumbprint (20 bytes), x5t#S256 for SHA-256 (32 bytes). */
function thumbprintHeaderOf(keyId: string): 'x5t' | 'x5t#S256' | null {
  if (!/^[A-Za-z0-9_-]+$/.test(keyId)) return null;
  if (keyId.length === 27) return 'x5t';
  if (keyId.length === 43) return 'x5t#S256';
  return null;
}
