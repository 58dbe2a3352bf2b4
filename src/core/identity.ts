// Identities: what an IdP says about a user (ExternalIdentity), and what a session carries after
// the directory sync (Identity): computed once at login, read on every proxied request.
import { wellFormedEmail } from './email.js';

/** What a provider asserted, before the directory and group sync. */
export interface ExternalIdentity {
  readonly providerId: string;
  /** The IdP's stable subject for the user; users are matched on (providerId, externalId), never email. */
  readonly externalId: string;
  readonly username: string;
  readonly email: string | null;
  readonly name: string | null;
  /** As the IdP listed them; undefined when it sent no groups at all (memberships then stay as they are). */
  readonly groups: readonly string[] | undefined;
}

export interface Identity {
  /** Stable across logins and unique across providers: `${providerId}:${externalId}`. */
  readonly subject: string;
  readonly providerId: string;
  /** The directory's user id; null for identities that never touch the directory (API bearer tokens). */
  readonly userId: string | null;
  readonly username: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
}

/**
 * Email domains are compared case-insensitively; the local part is kept as the IdP sent it. Only a
 * well-formed address (core/email.ts) has a domain: `a@evil.test@example.com` has none.
 */
export function emailDomainOf(email: string | null): string | null {
  const address = wellFormedEmail(email);
  return address === null ? null : address.slice(address.indexOf('@') + 1);
}

export function subjectOf(providerId: string, externalId: string): string {
  return `${providerId}:${externalId}`;
}
