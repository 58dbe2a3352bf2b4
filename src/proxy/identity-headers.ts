// Identity headers: every client-sent spelling of a name the gateway uses is removed, then the
// gateway's own values are set. The removal set is computed once at start, never per request.
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderNamesConfig } from '../config/schema.js';
import { canonicalHeaderName } from '../core/header-names.js';
import type { Identity } from '../core/identity.js';

export interface IdentityHeaderPlan {
  /** Canonical names (lowercase, '_' → '-') to strip from every proxied request. */
  readonly strip: ReadonlySet<string>;
  readonly user: string;
  readonly email: string;
  readonly groups: string;
  readonly name: string;
  readonly assertion: string;
}

export function planIdentityHeaders(names: HeaderNamesConfig): IdentityHeaderPlan {
  return {
    strip: new Set(Object.values(names).map(canonicalHeaderName)),
    user: names.user.toLowerCase(),
    email: names.email.toLowerCase(),
    groups: names.groups.toLowerCase(),
    name: names.name.toLowerCase(),
    assertion: names.assertion.toLowerCase(),
  };
}

/**
 * Removes every header whose canonical name is one of ours. Node merges repeated headers into one
 * key and lowercases names, so this sees every occurrence, whatever case or underscore spelling.
 */
export function stripIdentityHeaders(headers: IncomingHttpHeaders, plan: IdentityHeaderPlan): void {
  for (const name of Object.keys(headers)) {
    if (plan.strip.has(name.includes('_') ? name.replaceAll('_', '-') : name)) delete headers[name];
  }
}

interface RenderedIdentity {
  user: string;
  email: string | null;
  name: string | null;
  groups: string;
}

// A session's identity is one frozen object shared by all its requests (the stores' parsed-record
// caches): its header values are rendered once, not per request. Only frozen identities are kept,
// so a value can never go stale.
const renderedIdentities = new WeakMap<Identity, RenderedIdentity>();

function renderedOf(identity: Identity): RenderedIdentity {
  let rendered = renderedIdentities.get(identity);
  if (rendered === undefined) {
    rendered = {
      user: headerSafe(identity.username),
      email: identity.email === null ? null : headerSafe(identity.email),
      name: identity.name === null ? null : headerSafe(identity.name),
      groups: identity.groups.map(groupHeaderSafe).join(','),
    };
    if (Object.isFrozen(identity) && Object.isFrozen(identity.groups))
      renderedIdentities.set(identity, rendered);
  }
  return rendered;
}

export function setIdentityHeaders(
  headers: IncomingHttpHeaders,
  plan: IdentityHeaderPlan,
  identity: Identity,
  assertion: string,
): void {
  const rendered = renderedOf(identity);
  headers[plan.user] = rendered.user;
  if (rendered.email !== null) headers[plan.email] = rendered.email;
  if (rendered.name !== null) headers[plan.name] = rendered.name;
  headers[plan.groups] = rendered.groups;
  headers[plan.assertion] = assertion;
}

/**
 * Header values cannot carry CR, LF or NUL (Node would throw) and non-Latin-1 text is mangled;
 * IdP-controlled strings are made safe here. The signed assertion carries the exact values.
 */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** A comma inside a group name would read as two groups in the comma-separated header. */
function groupHeaderSafe(group: string): string {
  return group.includes(',') ? encodeURIComponent(group) : headerSafe(group);
}
