// One exhaustive table from provider type to factory: adding a type to the config schema breaks
// this file's type until the new type is wired here. Each protocol's module is loaded only when the
// config names it: a gateway with one OIDC provider never loads the SAML/XML stack (memory, start-up).
import type { ProviderConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { IdentityProvider } from './identity-provider.js';
import type { OneTimeIds } from './one-time-ids.js';

export interface ProviderOptions {
  /** The redirect URI registered at the IdP. */
  callbackUrl: string;
  now: () => number;
  log: Logger;
  /** {publicUrl}{prefix}: protocols with several endpoints of their own (SAML: metadata, ACS, SLO) derive them from it. */
  gatewayUrl: string;
  /** One-time use of message IDs, shared by the replicas when sessions are in Redis (SAML assertion IDs). */
  replayCache: OneTimeIds;
}

type Factories = {
  [Type in ProviderConfig['type']]: (
    config: Extract<ProviderConfig, { type: Type }>,
    options: ProviderOptions,
  ) => Promise<IdentityProvider>;
};

const providerFactories: Factories = {
  oidc: async (config, options) =>
    (await import('./oidc/oidc-provider.js')).createOidcProvider(config, options),
  okta: async (config, options) =>
    (await import('./okta/okta-provider.js')).createOktaProvider(config, options),
  oauth2: async (config, options) =>
    (await import('./oauth2/oauth2-provider.js')).createOAuth2Provider(config, options),
  entra: async (config, options) =>
    (await import('./entra/entra-provider.js')).createEntraProvider(config, options),
  saml: async (config, options) =>
    (await import('./saml/saml-provider.js')).createSamlProvider(config, options),
};

export function createProvider(config: ProviderConfig, options: ProviderOptions): Promise<IdentityProvider> {
  const factory = providerFactories[config.type] as (
    config: ProviderConfig,
    options: ProviderOptions,
  ) => Promise<IdentityProvider>;
  return factory(config, options);
}
