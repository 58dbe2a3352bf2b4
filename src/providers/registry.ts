// One exhaustive table from provider type to factory: adding a type to the config schema breaks
// this file's type until the new type is wired here.
import type { ProviderConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { ReplayCache } from '../session/replay-cache.js';
import type { IdentityProvider } from './identity-provider.js';
import { createEntraProvider } from './entra/entra-provider.js';
import { createOAuth2Provider } from './oauth2/oauth2-provider.js';
import { createOidcProvider } from './oidc/oidc-provider.js';
import { createOktaProvider } from './okta/okta-provider.js';
import { createSamlProvider } from './saml/saml-provider.js';

export interface ProviderOptions {
  /** The redirect URI registered at the IdP. */
  callbackUrl: string;
  now: () => number;
  log: Logger;
  /** {publicUrl}{prefix}: protocols with several endpoints of their own (SAML: metadata, ACS, SLO) derive them from it. */
  gatewayUrl: string;
  /** One-time use of message IDs, shared by the replicas when sessions are in Redis (SAML assertion IDs). */
  replayCache: ReplayCache;
}

type Factories = {
  [Type in ProviderConfig['type']]: (
    config: Extract<ProviderConfig, { type: Type }>,
    options: ProviderOptions,
  ) => IdentityProvider;
};

const providerFactories: Factories = {
  oidc: (config, options) => createOidcProvider(config, options),
  okta: (config, options) => createOktaProvider(config, options),
  oauth2: (config, options) => createOAuth2Provider(config, options),
  entra: (config, options) => createEntraProvider(config, options),
  saml: (config, options) => createSamlProvider(config, options),
};

export function createProvider(config: ProviderConfig, options: ProviderOptions): IdentityProvider {
  const factory = providerFactories[config.type] as (
    config: ProviderConfig,
    options: ProviderOptions,
  ) => IdentityProvider;
  return factory(config, options);
}
