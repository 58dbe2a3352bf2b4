// Small pieces of the OpenID Connect flow shared by providers built on openid-client.

import * as client from 'openid-client';
import { ProviderUnavailable } from '../../core/errors.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { LoginStart } from '../identity-provider.js';
import { describeError } from '../login-errors.js';

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

/**
 * Lets openid-client talk plain HTTP to the IdP. Only reached through a config switch named
 * insecure* (off by default, announced at start) for local test IdPs. It is openid-client's own
 * function, not a wrapper: discovery() recognises it in `execute` by identity.
 */
export const allowPlainHttp: (configuration: client.Configuration) => void =
  // openid-client marks allowInsecureRequests deprecated only to make its use stand out (its own
  // JSDoc says so); this is that one visible use, behind the insecure* config switches.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  client.allowInsecureRequests;

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
