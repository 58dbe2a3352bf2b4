// The configs the config tests start from: the smallest one that loads, and ways to change a copy.

export const SECRET = 'k7Qw9zR2mX4pL8vN3bT6yH1jF5dS0aGe'; // 32 characters
/** argon2id of 'breakglass' (config/demo.yaml's). */
export const BREAK_GLASS_HASH =
  '$argon2id$v=19$m=65536,t=3,p=1$tqBzIutEeWIumd9NzcFn/A$5sgHxZL3OEphhoYiYfV50eYvX4kJGLWWzVEtrobHL0U';

export type Plain = { [key: string]: unknown };

export function minimalConfig(): Plain {
  return {
    server: { publicUrl: 'https://apps.example.com' },
    session: { secret: SECRET },
    providers: [
      {
        id: 'corp',
        type: 'oidc',
        issuer: 'https://idp.example.com',
        clientId: 'portcullis',
        clientSecret: 'client-secret-value',
      },
    ],
    routes: [{ upstream: 'http://127.0.0.1:3000', allow: { authenticated: true } }],
    roles: { admin: { groups: ['gw-admins'] } },
    // Without a break-glass admin the config loads with a warning (an IdP outage locks admins out).
    breakGlass: { users: [{ username: 'root', passwordHash: BREAK_GLASS_HASH, roles: ['admin'] }] },
  };
}

/** minimalConfig() with changes applied by a function on a deep copy. */
export function configWith(change: (config: Plain) => void): Plain {
  const config = structuredClone(minimalConfig());
  change(config);
  return config;
}

export const section = (config: Plain, key: string) => config[key] as Plain;
export const provider0 = (config: Plain) => (config.providers as Plain[])[0] as Plain;
export const route0 = (config: Plain) => (config.routes as Plain[])[0] as Plain;
