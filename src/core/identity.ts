// The identity a session carries: computed once at login, read on every proxied request.

export interface Identity {
  /** Stable across logins and unique across providers: `${providerId}:${external subject}`. */
  readonly subject: string;
  readonly providerId: string;
  readonly username: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
}

/** Email domains are compared case-insensitively; the local part is kept as the IdP sent it. */
export function emailDomainOf(email: string | null): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : null;
}
