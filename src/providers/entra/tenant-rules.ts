// Which Entra tenant a login belongs to, and the issuer its tokens must then carry. Entra's issuer is
// per tenant, {authorityHost}/{tenant GUID}/v2.0:
// - single tenant (a GUID or a verified domain as tenantId): discovery names the one issuer, and
//   every ID token's `tid` must be that tenant;
// - multi-tenant (organizations / common): discovery names the template {authorityHost}/{tenantid}/v2.0,
//   and each token's `iss` must be the template filled with that same token's verified `tid`.
import { GUID_PATTERN, type EntraUrls } from '../../config/providers/entra-schema.js';
import { AccessDenied, LoginResponseRejected } from '../../core/errors.js';

/** The placeholder in a multi-tenant discovery document's issuer. */
const TENANT_PLACEHOLDER = '{tenantid}';

export function tenantIssuer(authorityHost: string, tenant: string): string {
  return `${authorityHost}/${tenant}/v2.0`;
}

/**
 * Checks the issuer a discovery document names against the configured tenant. Returns the home
 * tenant's GUID (single tenant: every ID token's `tid` must name it), or null for a multi-tenant app.
 * Entra's issuer legitimately differs from the discovery URL twice:
 * - tenantId is a domain: the document names the tenant's GUID issuer;
 * - organizations / common: the document names the template.
 */
export function homeTenantOf(discoveredIssuer: string, urls: EntraUrls, tenantId: string): string | null {
  if (urls.isMultiTenant) {
    const template = tenantIssuer(urls.authorityHost, TENANT_PLACEHOLDER);
    if (discoveredIssuer !== template) {
      throw new Error(`issuer ${discoveredIssuer} is not the multi-tenant template ${template}`);
    }
    return null;
  }
  if (GUID_PATTERN.test(tenantId)) {
    if (discoveredIssuer !== urls.issuer) throw new Error(`issuer ${discoveredIssuer} is not ${urls.issuer}`);
    return tenantId;
  }
  // A domain: the tenant's own issuer, under the same authority host.
  const prefix = `${urls.authorityHost}/`;
  const tenant =
    discoveredIssuer.startsWith(prefix) && discoveredIssuer.endsWith('/v2.0')
      ? discoveredIssuer.slice(prefix.length, -5)
      : '';
  if (!GUID_PATTERN.test(tenant)) {
    throw new Error(`issuer ${discoveredIssuer} is not a tenant issuer under ${urls.authorityHost}`);
  }
  return tenant;
}

/** Single tenant: openid-client checked `iss` against the tenant's issuer; `tid` must agree (Graph is asked about it). */
export function checkHomeTenant(claims: Readonly<Record<string, unknown>>, homeTenantId: string): void {
  const tid = claims['tid'];
  if (tid !== homeTenantId) {
    throw new LoginResponseRejected(`ID token tid ${describeClaim(tid)} is not tenant ${homeTenantId}`);
  }
}

/**
 * Multi-tenant: the tenant of a token whose signature, audience and times are already verified.
 * `tid` must be a GUID, `iss` the template filled with that tid (a token of tenant A naming tenant B
 * in tid is refused), an RFC 9207 `iss` on the authorization response the same issuer, and the
 * tenant one of allowedTenants when they are configured.
 */
export function tenantOfVerifiedToken(
  payload: Readonly<Record<string, unknown>>,
  callbackIssuer: string | undefined,
  rules: { providerId: string; authorityHost: string; allowedTenants: readonly string[] | undefined },
): string {
  const tid = payload['tid'];
  if (typeof tid !== 'string' || !GUID_PATTERN.test(tid)) {
    throw new LoginResponseRejected('ID token tid is not a tenant ID');
  }
  const expectedIssuer = tenantIssuer(rules.authorityHost, tid);
  if (payload['iss'] !== expectedIssuer) {
    throw new LoginResponseRejected(
      `ID token iss ${describeClaim(payload['iss'])} is not the issuer of its tid ${tid}`,
    );
  }
  if (callbackIssuer !== undefined && callbackIssuer !== expectedIssuer) {
    throw new LoginResponseRejected(`authorization response iss ${callbackIssuer} is not ${expectedIssuer}`);
  }
  if (rules.allowedTenants !== undefined && !rules.allowedTenants.includes(tid)) {
    throw new AccessDenied(`${rules.providerId}: tenant ${tid} is not in allowedTenants`);
  }
  return tid;
}

/**
 * The user's external ID. oid is the user's object ID: the same for every app in the tenant, unlike
 * the per-app `sub`. Across tenants Microsoft says to key users on tid + oid together, so
 * multi-tenant IDs carry both.
 */
export function externalIdOf(localId: string, tenantId: string, isMultiTenant: boolean): string {
  return isMultiTenant ? `${tenantId}:${localId}` : localId;
}

/** A claim's value for a log message: strings as they are, anything else as JSON. */
function describeClaim(value: unknown): string {
  if (value === undefined) return 'undefined';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
