// `npm run demo`: the newcomer's first command. On one machine with nothing else installed it runs
// a local OpenID Provider (alice/alice in admins+eng, bob/bob in eng), an echo app that shows the
// identity headers it receives and verifies the assertion against /jwks.json, and the gateway in
// front of it with config/demo.yaml. Open http://localhost:8080/ and sign in.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../src/app/server.js';
import { formatIssues, loadConfigFile } from '../src/config/load.js';
import { createLogger } from '../src/observability/logger.js';
import { startEchoApp } from './echo-app.js';
import { startLocalIdp } from './local-idp.js';

const idpPort = Number(process.env.DEMO_IDP_PORT ?? 8081);
const echoPort = Number(process.env.DEMO_ECHO_PORT ?? 8082);
const gatewayPort = Number(process.env.DEMO_GATEWAY_PORT ?? 8080);
const publicUrl = process.env.DEMO_PUBLIC_URL ?? `http://localhost:${gatewayPort}`;

process.env.DEMO_PUBLIC_URL = publicUrl;
process.env.DEMO_GATEWAY_LISTEN ??= `127.0.0.1:${gatewayPort}`;
process.env.DEMO_IDP_ISSUER ??= `http://127.0.0.1:${idpPort}`;
process.env.DEMO_UPSTREAM ??= `http://127.0.0.1:${echoPort}`;
// A fresh secret per run: demo sessions do not survive a restart, which is what a demo wants.
process.env.PORTCULLIS_SESSION_SECRET ??= randomBytes(32).toString('base64url');

const configFile = fileURLToPath(new URL('../config/demo.yaml', import.meta.url));
const loaded = loadConfigFile(configFile);
if (!loaded.ok) {
  console.error(`demo: ${configFile} refused:\n${formatIssues(loaded.error)}`);
  process.exit(1);
}
const { config, warnings } = loaded.value;
const log = createLogger({ level: config.log.level });
for (const warning of warnings) log.warn({ key: warning.path }, warning.message);

const idp = await startLocalIdp({
  port: idpPort,
  clients: [
    {
      client_id: 'portcullis-demo',
      client_secret: 'demo-client-secret',
      redirect_uris: [`${publicUrl}${config.server.prefix}/callback/demo`],
      post_logout_redirect_uris: [`${publicUrl}${config.server.prefix}/logged-out`],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
});
const echo = await startEchoApp({
  port: echoPort,
  jwksUrl: `http://127.0.0.1:${gatewayPort}${config.server.prefix}/jwks.json`,
  expectedIssuer: new URL(publicUrl).origin,
});
const gateway = await startGateway(config, { log });

console.log(`
  Portcullis demo is running.

    Open            ${publicUrl}/                 (any signed-in user)
                    ${publicUrl}/admins/          (group admins only: alice yes, bob 403)
                    ${publicUrl}/public/          (no sign-in)
    Users           alice / alice   (groups admins, eng)
                    bob   / bob     (group eng)
    Sign out        ${publicUrl}${config.server.prefix}/logout
    Your identity   ${publicUrl}${config.server.prefix}/userinfo
    Public keys     ${publicUrl}${config.server.prefix}/jwks.json

    IdP ${idp.issuer}   echo app ${echo.url}   gateway ${gateway.url}
    Ctrl-C stops all three.
`);

const stop = () => {
  void Promise.allSettled([gateway.close(1000), echo.close(), idp.close()]).then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
