// What a SAML login leaves in the session: the subject as the IdP named it (NameID with its format and
// qualifiers) and the IdP session (SessionIndex). SP-initiated logout sends them back in the
// LogoutRequest; an IdP-initiated LogoutRequest is matched against them.
import { createHash } from 'node:crypto';
import type { IdentityProvider } from '../identity-provider.js';
import type { CheckedLogoutRequest } from './logout-checks.js';
import type { SamlServiceProvider } from './saml-provider.js';
import type { SamlNameId } from './response-checks.js';

export interface SamlSessionInfo {
  readonly providerId: string;
  readonly nameId: SamlNameId;
  readonly sessionIndex: string | null;
}

declare module 'express-session' {
  interface SessionData {
    /** Set at a SAML login; read by logout (SP-initiated SLO) and by IdP-initiated SLO. */
    saml: SamlSessionInfo;
  }
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
  request: Pick<CheckedLogoutRequest, 'nameId' | 'sessionIndexes'>,
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

/** Kept here, away from the SAML/XML stack, so routes can ask without loading it (providers load it lazily). */
export function isSamlProvider(provider: IdentityProvider): provider is SamlServiceProvider {
  return (provider as Partial<SamlServiceProvider>).protocol === 'saml';
}
