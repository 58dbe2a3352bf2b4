// What an identity admin registers at the IdP for each provider: printed by check-config and at start.
import type { Config, ProviderConfig } from '../config/schema.js';

export function registrationFor(provider: ProviderConfig, config: Config): Record<string, string> {
  const at = (path: string) => new URL(`${config.server.prefix}${path}`, config.server.publicUrl).href;
  if (provider.type === 'saml') {
    return { 'SP metadata': at(`/saml/${provider.id}/metadata`), 'ACS URL': at(`/saml/${provider.id}/acs`) };
  }
  return { 'redirect URI': at(`/callback/${provider.id}`), 'post-logout redirect URI': at('/logged-out') };
}
