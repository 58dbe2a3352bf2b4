// Why a SAML message was refused. The reason is stable (tests and logs match on it); the detail is for
// the log only. The client sees the GatewayError's public message and code, nothing more.
import { GatewayError, LoginResponseRejected } from '../../core/errors.js';

export type SamlRejection =
  | 'malformed' // not well-formed, DOCTYPE, wrong root, missing required element
  | 'schema' // fails the SAML 2.0 XML schemas
  | 'status' // the IdP reported an error status
  | 'signature' // no valid signature by the IdP's metadata key
  | 'wrapping' // the shape signature wrapping needs: extra assertions, duplicate IDs, misplaced signatures
  | 'unsigned' // the assertion (or logout request) itself is not signed
  | 'issuer'
  | 'audience'
  | 'recipient'
  | 'destination'
  | 'expired'
  | 'not-yet-valid'
  | 'in-response-to' // answers a request this browser did not make (or is unsolicited when that is not allowed)
  | 'replay' // an assertion or message ID seen before
  | 'subject' // no usable NameID / identity attribute
  | 'comment' // comments or processing instructions inside the signed assertion
  | 'encryption' // encryption required but absent, or decryption failed
  | 'unsupported'; // valid SAML this gateway does not accept (unknown conditions, over-long validity, SHA-1)

/** A login response the gateway refused; 401 with the generic "could not be verified" message. */
export class SamlResponseRejected extends LoginResponseRejected {
  readonly reason: SamlRejection;
  constructor(reason: SamlRejection, detail: string, options?: ErrorOptions) {
    super(`SAML response refused (${reason}): ${detail}`, options);
    this.reason = reason;
  }
}

/** An IdP-initiated LogoutRequest (or a LogoutResponse) the gateway refused. */
export class SamlLogoutRejected extends GatewayError {
  readonly code = 'PC_SAML_LOGOUT_REJECTED';
  readonly status = 400;
  readonly publicMessage = 'The identity provider’s sign-out message could not be verified.';
  readonly reason: SamlRejection;
  constructor(reason: SamlRejection, detail: string, options?: ErrorOptions) {
    super(`SAML logout message refused (${reason}): ${detail}`, options);
    this.reason = reason;
  }
}

export type SamlRejecter = (reason: SamlRejection, detail: string) => Error;

export const rejectResponse: SamlRejecter = (reason, detail) => new SamlResponseRejected(reason, detail);
export const rejectLogout: SamlRejecter = (reason, detail) => new SamlLogoutRejected(reason, detail);
