// Email addresses as the gateway will believe them. Whatever a provider sends (OIDC claims, OAuth 2.0
// userinfo, SAML attributes, access tokens) must be one well-formed address before a policy rule
// (`emails`, `emailDomains`), the directory or a header sees it; anything else counts as no email.

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254. */
const MAX_EMAIL_LENGTH = 254;
/** Any control character (C0, DEL, C1) or whitespace, Unicode's included. */
const CONTROL_OR_SPACE = /[\u0000-\u001f\u007f-\u009f\s\u200b-\u200f\u2028\u2029\ufeff]/u;
/** LDH labels (RFC 1123), at least two of them; IDNs arrive as their A-label (xn--) form. */
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * The address with its domain lowercased (one trailing dot dropped: `example.com.` is
 * `example.com`), or null when it is not exactly one `local@hostname`: two `@`, an empty part,
 * a control character, NUL or whitespace anywhere, or a domain that is not a hostname.
 */
export function wellFormedEmail(raw: string | null): string | null {
  if (raw === null || raw.length === 0 || raw.length > MAX_EMAIL_LENGTH + 1) return null;
  if (CONTROL_OR_SPACE.test(raw)) return null;
  const at = raw.indexOf('@');
  if (at <= 0 || at !== raw.lastIndexOf('@')) return null;
  const local = raw.slice(0, at);
  const domain = raw
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, '');
  if (!HOSTNAME.test(domain)) return null;
  const email = `${local}@${domain}`;
  return email.length > MAX_EMAIL_LENGTH ? null : email;
}

/**
 * Whether an `email_verified` (or `verified_email`) claim says yes: only `true`, or the string
 * `"true"` that some IdPs send. `"false"`, `0`, `"no"`, `1` or anything else is not a yes.
 */
export function saysVerified(claim: unknown): boolean {
  return claim === true || claim === 'true';
}
