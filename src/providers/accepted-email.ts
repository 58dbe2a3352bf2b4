// The one gate every provider's email passes, at login (login/complete-login.ts) and for bearer
// tokens (access/bearer-tokens.ts): a malformed address (two '@', controls, whitespace, a domain
// that is not a hostname) becomes "no email", and the refusal is logged with the provider and
// subject so an operator can see which IdP sends what.
import { wellFormedEmail } from '../core/email.js';
import type { ExternalIdentity } from '../core/identity.js';
import type { Logger } from '../observability/logger.js';

export function acceptedEmail(
  external: Pick<ExternalIdentity, 'providerId' | 'externalId' | 'email'>,
  log: Logger,
): string | null {
  const email = wellFormedEmail(external.email);
  if (email === null && external.email !== null) {
    // The value itself is not logged: it is attacker-chosen and may carry control characters.
    log.warn(
      { provider: external.providerId, subject: external.externalId, length: external.email.length },
      'email address from the identity provider is malformed: treated as no email',
    );
  }
  return email;
}
