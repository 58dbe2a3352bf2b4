// Ambiguous paths (issue 12): a path some upstream server reads as /admins/ must be judged as
// /admins/. Bob (not an admin) sends every spelling that Windows/IIS (trailing dots and spaces),
// Tomcat/Spring (path parameters, also behind an encoded ';') or a decoder (encoded dots) would
// serve as the admins area, through the proxy path and through forward-auth; none may reach the
// app as an allowed request. A real gateway, a real IdP login, a real upstream that records.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { startStack, type Stack } from '../support/gateway-stack.js';

/** Each spelling's expected upstream reading is /admins/… . */
const VARIANTS = [
  '/admins./',
  '/admins../x',
  '/admins.../x',
  '/admins%2e/',
  '/admins%2E%2e/x',
  '/admins%20/',
  '/admins%20./x',
  '/admins.%20/',
  '/admins%3b/',
  '/admins%3B/x',
  '/admins%3bjsessionid=1/',
  '/admins;x/',
  '/ADMINS./',
  '/Admins%3B./x',
  '/x/..%3B/admins/',
  '/x/.%20/admins/',
  '/x/.../admins/',
  '/public/%3B/../admins/',
  '/public/..;/admins/',
];

function rawGet(port: number, target: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method: 'GET', headers, agent: false });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ambiguous spellings of a protected path never pass as a laxer route', () => {
  let stack: Stack | undefined;
  let cookie = '';
  const live = (): Stack => {
    assert.ok(stack, 'the stack started');
    return stack;
  };

  before(async () => {
    stack = await startStack({ extra: { server: { trustProxy: ['loopback'] } } });
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${stack.publicUrl}/`);
    const { final: landing } = await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
    assert.equal(landing.status, 200, 'bob is signed in');
    cookie = browser.cookieHeaderFor(`${stack.publicUrl}/`);
  });
  after(async () => {
    await stack?.close();
  });

  test('bob is refused /admins/ itself and allowed elsewhere (the test can tell)', async () => {
    const { primary } = live();
    assert.equal(await rawGet(primary.gateway.port, '/admins/', { cookie }), 403);
    assert.equal(await rawGet(primary.gateway.port, '/reports', { cookie }), 200);
  });

  for (const target of VARIANTS) {
    test(`proxy path: ${target} is refused (403 or 400) and never reaches the app`, async () => {
      const { primary, echo } = live();
      const before = echo.requests.length;
      const status = await rawGet(primary.gateway.port, target, { cookie });
      assert.ok(status === 403 || status === 400, `${target} answered ${status}`);
      assert.equal(echo.requests.length, before, `${target} reached the app`);
    });

    test(`forward-auth (Traefik headers from a trusted proxy): ${target} is not allowed`, async () => {
      const { primary } = live();
      const status = await rawGet(primary.gateway.port, '/.portcullis/auth', {
        cookie,
        'x-forwarded-method': 'GET',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': new URL(live().publicUrl).host,
        'x-forwarded-uri': target,
      });
      assert.ok(status === 403 || status === 400, `${target} answered ${status}`);
    });
  }
});
