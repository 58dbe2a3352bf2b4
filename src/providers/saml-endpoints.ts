// The SAML part of the IdentityProvider port: what the SAML routes (metadata, ACS, SLO) and the
// single-logout flow need from a SAML provider, reached as `provider.saml` without naming
// providers/saml/* (which loads the SAML/XML stack only when a SAML provider is configured).
// What a SAML login leaves in the session (core/saml-session.ts) is matched here against logout
// requests.
import { createHash } from 'node:crypto';
import type { ExternalIdentity } from '../core/identity.js';
import type { SamlNameId, SamlSessionInfo } from '../core/saml-session.js';

export interface SamlLogin {
  external: ExternalIdentity;
  /** Kept in the session for single logout. */
  session: SamlSessionInfo;
}

/** An IdP's LogoutRequest after every check (signature, issuer, destination, age, one-time ID). */
export interface SamlLogoutRequest {
  readonly id: string;
  readonly nameId: SamlNameId;
  /** Empty: every session of the subject. */
  readonly sessionIndexes: readonly string[];
  /** Until when the request is acceptable (its ID stays in the replay cache that long). */
  readonly validUntil: number;
}

export interface AcceptedLogoutRequest {
  request: SamlLogoutRequest;
  /** Returned unchanged with the LogoutResponse (saml-bindings §3.4.3). */
  relayState: string | null;
}

/** What a SAML provider offers beyond the IdentityProvider port: its SP endpoints. */
export interface SamlEndpoints {
  /** Whether an unsolicited (IdP-initiated) response may sign a user in. */
  readonly allowIdpInitiated: boolean;
  readonly entityId: string;
  readonly acsUrl: string;
  readonly sloUrl: string;
  /** The SP metadata to paste into (or fetch from) the IdP. */
  metadataXml(): string;
  /** Verifies a POST-binding SAMLResponse; throws SamlResponseRejected (or 503s) when it is not acceptable. */
  acceptLoginResponse(samlResponse: string, expectedRequestId: string | null): Promise<SamlLogin>;
  /** Verifies an HTTP-Redirect LogoutRequest from the IdP (raw query string); throws SamlLogoutRejected. */
  acceptLogoutRequest(rawQuery: string): Promise<AcceptedLogoutRequest>;
  /** Where to send the browser with the LogoutResponse; null when the IdP has no SLO endpoint. */
  logoutResponseUrl(accepted: AcceptedLogoutRequest, success: boolean): URL | null;
  /** Verifies the IdP's HTTP-Redirect LogoutResponse; true when it reports success. */
  acceptLogoutResponse(rawQuery: string): Promise<boolean>;
}

/** The session-index key of one subject at one provider (hashed: NameIDs can be long and hold anything). */
export function samlSubjectKey(providerId: string, nameIdValue: string): string {
  return `saml:${providerId}:${createHash('sha256').update(nameIdValue).digest('base64url')}`;
}

/** The SAML part of a stored session record, when it has a well-formed one. */
export function samlInfoOf(record: unknown): SamlSessionInfo | null {
  if (record === null || typeof record !== 'object') return null;
  const info = (record as { saml?: unknown }).saml;
  if (info === null || typeof info !== 'object') return null;
  const { providerId, nameId, sessionIndex } = info as Record<string, unknown>;
  if (typeof providerId !== 'string' || nameId === null || typeof nameId !== 'object') return null;
  const { value, format, nameQualifier, spNameQualifier } = nameId as Record<string, unknown>;
  const optional = (field: unknown): field is string | null => field === null || typeof field === 'string';
  if (
    typeof value !== 'string' ||
    !optional(format) ||
    !optional(nameQualifier) ||
    !optional(spNameQualifier)
  )
    return null;
  if (!optional(sessionIndex)) return null;
  return { providerId, nameId: { value, format, nameQualifier, spNameQualifier }, sessionIndex };
}

/**
 * Whether an IdP's LogoutRequest names this session: same provider, same NameID (value, and format
 * and qualifiers where both sides state them), and, when the request lists SessionIndexes, one of
 * them (saml-core §3.7.3.2).
 */
export function logoutRequestMatches(
  session: SamlSessionInfo,
  providerId: string,
  request: Pick<SamlLogoutRequest, 'nameId' | 'sessionIndexes'>,
): boolean {
  if (session.providerId !== providerId || session.nameId.value !== request.nameId.value) return false;
  for (const key of ['format', 'nameQualifier', 'spNameQualifier'] as const) {
    const ours = session.nameId[key];
    const theirs = request.nameId[key];
    if (ours !== null && theirs !== null && ours !== theirs) return false;
  }
  if (request.sessionIndexes.length === 0) return true;
  return session.sessionIndex !== null && request.sessionIndexes.includes(session.sessionIndex);
}
