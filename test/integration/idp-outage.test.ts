// An IdP that is down at start-up must not stop the gateway: it starts, serves public routes and
// existing sessions, answers sign-in attempts with a clear 503, and recovers when the IdP is back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { TestBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from '../support/gateway-stack.js';

describe('identity provider unreachable', () => {
  let echo: EchoApp;
  let gateway: GatewayInstance;
  let publicUrl: string;
  let dataDir: string;

  before(async () => {
    echo = await startEchoApp();
    const port = await freePort();
    const closedPort = await freePort(); // nothing listens there
    publicUrl = `http://localhost:${port}`;
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-outage-'));
    gateway = await startGatewayFromRaw(
      {
        server: { publicUrl },
        session: { secret: randomBytes(32).toString('hex') },
        providers: [
          {
            id: 'down',
            type: 'oidc',
            issuer: `http://127.0.0.1:${closedPort}`,
            clientId: 'x',
            clientSecret: 'y',
            insecureAllowHttpIssuer: true,
          },
        ],
        routes: [
          { path: '/public/', upstream: echo.url, public: true },
          { path: '/', upstream: echo.url, allow: { authenticated: true } },
        ],
        roles: { admin: { groups: ['admins'] } },
        storage: { dataDir },
      },
      port,
    );
  });
  after(async () => {
    await gateway.close();
    await echo.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the gateway starts and is ready; readiness does not depend on the IdP', async () => {
    const ready = await new TestBrowser().request(`${publicUrl}/.portcullis/readyz`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(ready.status, 200);
  });

  test('public routes keep working', async () => {
    const response = await new TestBrowser().request(`${publicUrl}/public/x`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(response.status, 200);
  });

  test('a sign-in attempt gets a clear 503 page, not a hang or a stack trace', async () => {
    const browser = new TestBrowser();
    const { final } = await browser.navigate(`${publicUrl}/`);
    assert.equal(final.status, 503);
    assert.equal(final.headers['x-portcullis-response'], 'gateway');
    assert.match(final.body, /identity provider cannot be reached/);
    assert.doesNotMatch(final.body, /ECONNREFUSED|at .*\.ts/);
  });
});
