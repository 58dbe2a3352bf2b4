// In a real browser (playwright-core driving Debian's chromium; never a downloaded one): with the
// only IdP unreachable, the break-glass form renders, an exempt admin signs in and lands on the app.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import { hashPassword } from '../../src/login/break-glass/password-hashing.js';
import { freePort } from '../support/free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from '../support/gateway-stack.js';
import { requireBinary } from '../support/services.js';
import { stopInOrder } from '../support/stop-in-order.js';

const chromiumBinary = requireBinary('chromium', 'chromium');
const PASSWORD = 'e2e-Break-Glass-Passw0rd';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe(
  'native login in a real browser',
  { skip: 'skip' in chromiumBinary ? chromiumBinary.skip : false },
  () => {
    let browser: Browser;
    let echo: EchoApp;
    let gateway: GatewayInstance;
    let publicUrl: string;
    let tmp: string;

    before(async () => {
      tmp = mkdtempSync(join(tmpdir(), 'portcullis-e2e-'));
      const port = await freePort();
      const closedPort = await freePort(); // the IdP: nothing listens there
      publicUrl = `http://localhost:${port}`;
      echo = await startEchoApp({
        jwksUrl: `http://127.0.0.1:${port}/.portcullis/jwks.json`,
        expectedIssuer: publicUrl,
      });
      gateway = await startGatewayFromRaw(
        {
          server: { publicUrl },
          session: { secret: randomBytes(32).toString('hex') },
          providers: [
            {
              id: 'corp',
              type: 'oidc',
              issuer: `http://127.0.0.1:${closedPort}`,
              clientId: 'x',
              clientSecret: 'y',
              insecureAllowHttpIssuer: true,
            },
          ],
          routes: [{ path: '/', upstream: echo.url, allow: { roles: ['admin'] } }],
          roles: {},
          breakGlass: {
            users: [
              {
                username: 'root',
                passwordHash: await hashPassword(PASSWORD),
                name: 'Root Admin',
                roles: ['admin'],
              },
            ],
          },
          storage: { dataDir: join(tmp, 'data') },
        },
        port,
      );
      if ('path' in chromiumBinary) {
        browser = await chromium.launch({
          executablePath: chromiumBinary.path,
          headless: true,
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        });
      }
    });
    after(async () => {
      try {
        await stopInOrder(browser, gateway, echo);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('the form renders, root signs in and lands on the app', async () => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const response = await page.goto(`${publicUrl}/.portcullis/login/native?rd=/welcome`);
        assert.equal(response?.status(), 200);
        await page.locator('h1', { hasText: 'Break-glass sign-in' }).waitFor();

        const shot = join(tmp, 'native-login.png');
        await page.screenshot({ path: shot, fullPage: true });
        const png = readFileSync(shot);
        assert.ok(png.length > 1_000, `screenshot is ${png.length} bytes`);
        assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'the screenshot is a PNG');

        await page.fill('#username', 'root');
        await page.fill('#password', PASSWORD);
        await Promise.all([page.waitForURL(`${publicUrl}/welcome`), page.click('button[type=submit]')]);
        await page.locator('h1', { hasText: 'Echo app' }).waitFor();
        const text = await page.locator('body').innerText();
        assert.match(text, /local:root/);
        assert.match(text, /Root Admin/);
        assert.match(text, /Assertion verified/);
      } finally {
        await context.close();
      }
    });

    test('a wrong password shows the refusal on the form', async () => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${publicUrl}/.portcullis/login/native`);
        await page.fill('#username', 'root');
        await page.fill('#password', 'not-the-password');
        await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
        await page.locator('[role=alert]', { hasText: 'Wrong username or password.' }).waitFor();
        assert.equal(new URL(page.url()).pathname, '/.portcullis/login/native');
      } finally {
        await context.close();
      }
    });
  },
);
