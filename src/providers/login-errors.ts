// How a failed code exchange or identity fetch becomes one of the gateway's login errors. Shared by
// every provider built on openid-client, so "the IdP said no", "the IdP's answer failed a check"
// and "the IdP is unreachable" read the same in logs and on the error page whatever the provider.
import * as client from 'openid-client';
import {
  GatewayError,
  LoginErrorFromProvider,
  LoginResponseRejected,
  ProviderUnavailable,
} from '../core/errors.js';

export function classifyLoginError(providerId: string, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new LoginErrorFromProvider(
      `${providerId} answered error=${err.error}: ${err.error_description ?? ''}`,
      { cause: err },
    );
  }
  if (err instanceof client.ResponseBodyError) {
    return new LoginResponseRejected(
      `${providerId} refused the request: error=${err.error}: ${err.error_description ?? ''}`,
      { cause: err },
    );
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    return new LoginResponseRejected(`${providerId} refused the request: ${describeError(err)}`, {
      cause: err,
    });
  }
  if (err instanceof client.ClientError) {
    return new LoginResponseRejected(`${providerId} response failed validation: ${describeError(err)}`, {
      cause: err,
    });
  }
  // Anything else is transport: connection refused, DNS, TLS, timeout.
  return new ProviderUnavailable(`${providerId} could not be reached: ${describeError(err)}`, { cause: err });
}

/** A short reason for logs, including openid-client's nested cause (that is where the precise check is named). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`;
}
