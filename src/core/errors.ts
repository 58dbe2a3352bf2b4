// The GatewayError family: every refusal the gateway makes has a stable code (tests and dashboards
// match on it), an HTTP status, a message the client may see, and a detail (the Error message)
// that only the log sees. http/error-response.ts is the one place these become responses.

export abstract class GatewayError extends Error {
  abstract readonly code: `PC_${string}`;
  abstract readonly status: number;
  abstract readonly publicMessage: string;
  constructor(detail: string, options?: ErrorOptions) {
    super(detail, options);
    this.name = new.target.name;
  }
}

export class InternalError extends GatewayError {
  readonly code = 'PC_INTERNAL';
  readonly status = 500;
  readonly publicMessage = 'The gateway failed to handle this request.';
}

export class BadRequestTarget extends GatewayError {
  readonly code = 'PC_BAD_REQUEST_TARGET';
  readonly status = 400;
  readonly publicMessage = 'The request path is not acceptable.';
}

export class RouteNotFound extends GatewayError {
  readonly code = 'PC_ROUTE_NOT_FOUND';
  readonly status = 404;
  readonly publicMessage = 'No application is configured at this address.';
}

export class LoginRequired extends GatewayError {
  readonly code = 'PC_LOGIN_REQUIRED';
  readonly status = 401;
  readonly publicMessage = 'Sign-in required.';
}

export class AccessDenied extends GatewayError {
  readonly code = 'PC_ACCESS_DENIED';
  readonly status = 403;
  readonly publicMessage = 'You do not have access to this application.';
}

export class UpstreamUnavailable extends GatewayError {
  readonly code = 'PC_UPSTREAM_UNAVAILABLE';
  readonly status = 502;
  readonly publicMessage = 'The application behind the gateway did not answer.';
}

export class UnknownProvider extends GatewayError {
  readonly code = 'PC_UNKNOWN_PROVIDER';
  readonly status = 404;
  readonly publicMessage = 'No such identity provider.';
}

export class ProviderUnavailable extends GatewayError {
  readonly code = 'PC_PROVIDER_UNAVAILABLE';
  readonly status = 503;
  readonly publicMessage = 'The identity provider cannot be reached right now. Try again in a moment.';
}

/** The callback did not match a login this browser started (missing, replayed, or from another session). */
export class LoginStateInvalid extends GatewayError {
  readonly code = 'PC_LOGIN_STATE_INVALID';
  readonly status = 400;
  readonly publicMessage =
    'This sign-in response does not belong to a sign-in started in this browser, or was already used. Start again.';
}

/** The IdP's answer failed validation (signature, issuer, audience, expiry, nonce, PKCE...). */
export class LoginResponseRejected extends GatewayError {
  readonly code = 'PC_LOGIN_REJECTED';
  readonly status = 401;
  readonly publicMessage = 'The identity provider’s response could not be verified. Sign-in refused.';
}

/** The IdP itself reported an error on the redirect (error=access_denied and the like). */
export class LoginErrorFromProvider extends GatewayError {
  readonly code = 'PC_LOGIN_PROVIDER_ERROR';
  readonly status = 401;
  readonly publicMessage = 'The identity provider did not sign you in.';
}

export class LoginLoopDetected extends GatewayError {
  readonly code = 'PC_LOGIN_LOOP';
  readonly status = 508;
  readonly publicMessage =
    'Sign-in was attempted several times in a row without success. The gateway stopped the loop: check that cookies are allowed for this site, then try again in a minute.';
}

export class CsrfRejected extends GatewayError {
  readonly code = 'PC_CSRF_REJECTED';
  readonly status = 403;
  readonly publicMessage =
    'This form has expired or did not come from this site. Reload the page and try again.';
}

export class NotSignedIn extends GatewayError {
  readonly code = 'PC_NOT_SIGNED_IN';
  readonly status = 401;
  readonly publicMessage = 'Not signed in.';
}

export class SessionStoreUnavailable extends GatewayError {
  readonly code = 'PC_SESSION_STORE_UNAVAILABLE';
  readonly status = 503;
  readonly publicMessage = 'Sessions cannot be checked right now. Try again in a moment.';
}

/** An `Authorization: Bearer` token that did not verify (signature, issuer, audience, expiry). */
export class BearerTokenRejected extends GatewayError {
  readonly code = 'PC_BEARER_TOKEN_REJECTED';
  readonly status = 401;
  readonly publicMessage = 'The bearer token is not valid for this application.';
}

/** The forward-auth request itself is unusable (untrusted peer, no original URL, bad target, no route). 403, never 400: nginx turns other codes into a 500. */
export class ForwardAuthRefused extends GatewayError {
  readonly code = 'PC_FORWARD_AUTH_REFUSED';
  readonly status = 403;
  readonly publicMessage = 'This request cannot be authorised.';
}
