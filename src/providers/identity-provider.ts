// The port every identity provider implements; login/ and routes/ know only this.
import type { ExternalIdentity } from '../core/identity.js';
import type { PendingLogin } from '../core/pending-login.js';
import type { SamlSessionInfo } from '../core/saml-session.js';
import type { SamlEndpoints } from './saml-endpoints.js';

export interface LoginStart {
  /** Where to send the browser. */
  authorizationUrl: URL;
  /** What the callback must find in this browser's session. */
  pending: PendingLogin;
}

export interface FinishedLogin {
  external: ExternalIdentity;
  /** Kept for RP-initiated logout; absent for providers without one. */
  idToken?: string;
}

export interface IdentityProvider {
  readonly id: string;
  readonly displayName: string;
  /** The redirect URI to register at the IdP. */
  readonly callbackUrl: string;
  startLogin(returnTo: string, now: number): Promise<LoginStart>;
  /** Verifies the IdP's answer; throws a GatewayError when it is not acceptable. */
  finishLogin(callbackUrl: URL, pending: PendingLogin): Promise<FinishedLogin>;
  /**
   * Verifies an access token this provider issued (for API clients with `Authorization: Bearer`):
   * signature against the provider's JWKS, issuer, audience, expiry. Absent for providers whose
   * tokens cannot be verified locally.
   */
  verifyAccessToken?(token: string, audience: string): Promise<ExternalIdentity>;
  /**
   * Where to send the browser to end the IdP session too, when the IdP supports it. `ended` is what
   * the ended session held: protocols that log out by subject rather than by token read their part
   * of it (SAML: NameID and SessionIndex, for a LogoutRequest).
   */
  endSessionUrl(
    idToken: string | undefined,
    postLogoutRedirectUri: string,
    ended?: EndedSession,
  ): Promise<URL | undefined>;
  /** Stops background work (a SAML provider's metadata refresh) when the gateway closes. */
  close?(): void;
  /**
   * Present on SAML providers only: the SP endpoints (metadata, ACS, single logout) the routes serve.
   * `provider.saml !== undefined` is how a caller tells a SAML provider.
   */
  readonly saml?: SamlEndpoints;
}

/**
 * What an ended session held that the IdP's logout needs, taken before the session was destroyed.
 * Read defensively: it comes from the session store.
 */
export interface EndedSession {
  /** SAML: NameID and SessionIndex, for the LogoutRequest. */
  readonly saml?: SamlSessionInfo | undefined;
}
