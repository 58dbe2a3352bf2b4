// Small pieces of the OpenID Connect flow shared by providers built on openid-client.

import { createPrivateKey, type webcrypto } from 'node:crypto';
import * as client from 'openid-client';
import { ProviderUnavailable } from '../../core/errors.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { LoginStart } from '../identity-provider.js';
import { describeError } from '../login-errors.js';

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

/**
 * Starts an authorization code flow: fresh state, nonce and PKCE verifier (S256), kept server-side
 * in the returned pending login, and the authorization URL that carries their public halves.
 */
export async function startAuthorizationCodeFlow(
  oidc: client.Configuration,
  request: {
    providerId: string;
    callbackUrl: string;
    scopes: readonly string[];
    returnTo: string;
    now: number;
    extraParams?: Readonly<Record<string, string>>;
  },
): Promise<LoginStart> {
  const pending: PendingLogin = {
    providerId: request.providerId,
    state: client.randomState(),
    nonce: client.randomNonce(),
    codeVerifier: client.randomPKCECodeVerifier(),
    returnTo: request.returnTo,
    createdAt: request.now,
  };
  const authorizationUrl = client.buildAuthorizationUrl(oidc, {
    ...request.extraParams,
    redirect_uri: request.callbackUrl,
    response_type: 'code',
    scope: request.scopes.join(' '),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
  });
  return { authorizationUrl, pending };
}

/** After a failed discovery, wait this long before asking the IdP again. */
const DISCOVERY_RETRY_MS = 5_000;

/**
 * Discovery on first use, cached, and retried after a failure (with a short back-off): an IdP that
 * is down at start-up must not stop the gateway from starting (break-glass and public routes keep
 * working), and the provider recovers by itself when the IdP comes back.
 */
export function lazyDiscovery<T>(
  discover: () => Promise<T>,
  target: { providerId: string; issuer: string; now: () => number },
): () => Promise<T> {
  let discovered: Promise<T> | null = null;
  let lastFailureAt = -Infinity;
  return () => {
    if (discovered !== null) return discovered;
    if (target.now() - lastFailureAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(
        new ProviderUnavailable(`discovery for ${target.providerId} failed recently; not retrying yet`),
      );
    }
    const attempt = discover().catch((err: unknown) => {
      discovered = null;
      lastFailureAt = target.now();
      throw new ProviderUnavailable(`discovery of ${target.issuer} failed: ${describeError(err)}`, {
        cause: err,
      });
    });
    discovered = attempt;
    return attempt;
  };
}
