// The policy decision: pure, default deny, and its answer carries the reasons (for 403 pages and logs).
import { wellFormedEmail } from '../core/email.js';
import { emailDomainOf, type Identity } from '../core/identity.js';
import type { CompiledRoute } from './route-table.js';

export type Reason =
  | 'public-route'
  | 'no-session'
  | 'provider-not-accepted'
  | 'authenticated-ok'
  | 'group-ok'
  | 'role-ok'
  | 'email-ok'
  | 'email-domain-ok'
  | 'no-rule-matched';

export type Decision =
  | { kind: 'public'; reasons: readonly Reason[] }
  | { kind: 'login'; reasons: readonly Reason[] }
  | { kind: 'allow'; identity: Identity; reasons: readonly Reason[] }
  | { kind: 'deny'; identity: Identity; reasons: readonly Reason[] };

export function decide(route: CompiledRoute, identity: Identity | null): Decision {
  if (route.isPublic) return { kind: 'public', reasons: ['public-route'] };
  if (identity === null) return { kind: 'login', reasons: ['no-session'] };
  if (route.providers !== null && !route.providers.has(identity.providerId)) {
    return { kind: 'login', reasons: ['provider-not-accepted'] };
  }
  const reasons = allowReasons(route, identity);
  return reasons.length > 0
    ? { kind: 'allow', identity, reasons }
    : { kind: 'deny', identity, reasons: ['no-rule-matched'] };
}

function allowReasons(route: CompiledRoute, identity: Identity): Reason[] {
  const allow = route.allow;
  if (allow === null) return [];
  const reasons: Reason[] = [];
  if (allow.authenticated) reasons.push('authenticated-ok');
  if (allow.groups.some((group) => identity.groups.includes(group))) reasons.push('group-ok');
  if (allow.roles.some((role) => identity.roles.includes(role))) reasons.push('role-ok');
  // Logins keep only well-formed addresses; read again here so no identity, however it was made,
  // can pass an email rule with one that is not (`a@evil.test@example.com`). Only for routes with
  // email rules: the hot path of the others pays nothing.
  if (allow.emails.length > 0) {
    const email = wellFormedEmail(identity.email)?.toLowerCase() ?? null;
    if (email !== null && allow.emails.includes(email)) reasons.push('email-ok');
  }
  if (allow.emailDomains.length > 0) {
    const domain = emailDomainOf(identity.email);
    if (domain !== null && allow.emailDomains.some((pattern) => emailDomainMatches(domain, pattern))) {
      reasons.push('email-domain-ok');
    }
  }
  return reasons;
}

/** 'example.com' matches only itself; '.example.com' or '*.example.com' match its subdomains. */
function emailDomainMatches(domain: string, pattern: string): boolean {
  if (pattern.startsWith('*.') || pattern.startsWith('.')) {
    const suffix = pattern.slice(pattern.indexOf('.'));
    return domain.endsWith(suffix) && domain.length > suffix.length;
  }
  return domain === pattern;
}
