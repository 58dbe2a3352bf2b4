// App-only tokens for Microsoft Graph: the client credentials grant at the token endpoint of the
// user's tenant ({authorityHost}/{tenant}/oauth2/v2.0/token), authenticated like the login's code
// exchange. One token per tenant, reused until shortly before it expires; concurrent logins of one
// tenant share one request.
import * as client from 'openid-client';
import { describeError } from '../login-errors.js';
import { tenantIssuer } from './tenant-rules.js';

/** An app token is renewed this long (at most half its lifetime) before it expires. */
const APP_TOKEN_RENEW_BEFORE_MS = 60_000;
/** Bounds memory in multi-tenant setups: past this many tenants the caches start again empty. */
const TENANT_CACHE_MAX_ENTRIES = 1_000;

export interface AppTokens {
  /** An access token for Graph in `tenantId`; rejects with AppTokenFailed. */
  get(tenantId: string): Promise<string>;
  /** Drops the tenant's cached token (Graph refused it: revoked or expired early). */
  forget(tenantId: string): void;
}

/** The token request failed; its message and fields never include a token or a secret. */
export class AppTokenFailed extends Error {
  readonly status: number | null;
  readonly error: string | null;
  constructor(status: number | null, error: string | null, detail: string) {
    super(detail);
    this.name = 'AppTokenFailed';
    this.status = status;
    this.error = error;
  }
}

export interface AppTokenOptions {
  clientId: string;
  authorityHost: string;
  graphBaseUrl: string;
  /** The login's client authentication (client-auth.ts), shared so both authenticate alike. */
  clientAuth: () => Promise<client.ClientAuth>;
  /** Timeout, fetch and transport rules every openid-client Configuration of the provider shares. */
  prepare: (configuration: client.Configuration) => void;
  now: () => number;
}

export function createAppTokens(options: AppTokenOptions): AppTokens {
  const appTokens = new Map<string, { accessToken: string; expiresAt: number }>();
  const appTokenRequests = new Map<string, Promise<string>>();
  const tokenConfigurations = new Map<string, client.Configuration>();

  async function requestAppToken(tenantId: string): Promise<string> {
    let tokens: client.TokenEndpointResponse;
    try {
      tokens = await client.clientCredentialsGrant(await tokenConfigurationFor(tenantId), {
        scope: `${options.graphBaseUrl}/.default`,
      });
    } catch (err) {
      const status = err instanceof client.ResponseBodyError ? err.status : null;
      const error = err instanceof client.ResponseBodyError ? err.error : null;
      throw new AppTokenFailed(status, error, describeError(err));
    }
    const lifetimeMs = (tokens.expires_in ?? 0) * 1000;
    if (lifetimeMs > 0) {
      const renewBeforeMs = Math.min(APP_TOKEN_RENEW_BEFORE_MS, lifetimeMs / 2);
      if (appTokens.size >= TENANT_CACHE_MAX_ENTRIES) appTokens.clear();
      appTokens.set(tenantId, {
        accessToken: tokens.access_token,
        expiresAt: options.now() + lifetimeMs - renewBeforeMs,
      });
    }
    return tokens.access_token;
  }

  /** A Configuration for the tenant's token endpoint, with the login's client authentication. */
  async function tokenConfigurationFor(tenantId: string): Promise<client.Configuration> {
    const existing = tokenConfigurations.get(tenantId);
    if (existing !== undefined) return existing;
    const server: client.ServerMetadata = {
      issuer: tenantIssuer(options.authorityHost, tenantId),
      token_endpoint: `${options.authorityHost}/${tenantId}/oauth2/v2.0/token`,
    };
    const configuration = new client.Configuration(server, options.clientId, {}, await options.clientAuth());
    options.prepare(configuration);
    if (tokenConfigurations.size >= TENANT_CACHE_MAX_ENTRIES) tokenConfigurations.clear();
    tokenConfigurations.set(tenantId, configuration);
    return configuration;
  }

  return {
    get(tenantId) {
      const cached = appTokens.get(tenantId);
      if (cached !== undefined && cached.expiresAt > options.now())
        return Promise.resolve(cached.accessToken);
      let request = appTokenRequests.get(tenantId);
      if (request === undefined) {
        request = requestAppToken(tenantId).finally(() => appTokenRequests.delete(tenantId));
        appTokenRequests.set(tenantId, request);
      }
      return request;
    },

    forget(tenantId) {
      appTokens.delete(tenantId);
    },
  };
}
