// The benchmarks run the gateway compiled, as deployed (`node dist/src/main.js`): under tsx the
// loader's own worker thread and the transformed sources add ~50 MB of RSS and some start-up work,
// which would distort the memory rows and the comparison with the peers.
import { spawn } from 'node:child_process';

/** Runs `npm run build` in `root`; rejects when it fails. */
export function buildGateway(root: string, log: (line: string) => void): Promise<void> {
  log('npm run build (the gateway runs compiled, from dist/)');
  const child = spawn('npm', ['run', 'build', '--silent'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((done, fail) =>
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`npm run build failed (${code})`)))),
  );
}

/** The node arguments that start the compiled gateway with a config file. */
export function gatewayEntryArgs(configFile: string): string[] {
  return ['dist/src/main.js', '--config', configFile];
}

/** What differs between the benchmarks' gateways; everything else is the same for all of them. */
export interface BenchGatewayOptions {
  port: number;
  publicUrl: string;
  /** The `session` section (secret, store, redis). */
  session: Record<string, unknown>;
  idpIssuer: string;
  clientId: string;
  clientSecret: string;
  upstreamUrl: string;
  dataDir: string;
  /** Extra `server` keys (workers, allowedRedirectHosts). */
  server?: Record<string, unknown>;
}

/**
 * The benchmark gateway's config: a public route `/public/` and a protected route `/` (group eng)
 * to the same upstream, one local OIDC provider, warn-level logs without an access log.
 * trustProxy covers loopback on every gateway (forward-auth callers come from there), so public
 * and authenticated rows pay for the same client addressing.
 */
export function benchGatewayConfig(options: BenchGatewayOptions): Record<string, unknown> {
  return {
    server: {
      listen: `127.0.0.1:${options.port}`,
      publicUrl: options.publicUrl,
      trustProxy: ['loopback'],
      shutdownGraceSeconds: 1,
      ...options.server,
    },
    session: options.session,
    providers: [
      {
        id: 'local',
        type: 'oidc',
        displayName: 'Local IdP',
        issuer: options.idpIssuer,
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        scopes: ['openid', 'profile', 'email', 'groups'],
        claims: { username: 'preferred_username' },
        insecureAllowHttpIssuer: true,
      },
    ],
    routes: [
      { id: 'public', path: '/public/', upstream: options.upstreamUrl, public: true },
      { id: 'app', path: '/', upstream: options.upstreamUrl, allow: { groups: ['eng'] } },
    ],
    roles: { admin: { groups: ['admins'] } },
    storage: { dataDir: options.dataDir },
    log: { level: 'warn', accessLog: false },
  };
}
