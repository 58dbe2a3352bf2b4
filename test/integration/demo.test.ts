// `npm run demo` is the newcomer's first command: run it as a process, sign in as alice and bob
// through it, and check what the echo app shows.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startProcess, type StartedProcess } from '../support/processes.js';
import { waitUntil } from '../support/timing.js';

describe('npm run demo', () => {
  let demo: StartedProcess | undefined;
  let publicUrl: string;
  let dataDir: string;

  before(async () => {
    const [gatewayPort, idpPort, echoPort] = [await freePort(), await freePort(), await freePort()];
    publicUrl = `http://localhost:${gatewayPort}`;
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-demo-'));
    let output = '';
    const started = startProcess('npm run demo', process.execPath, ['--import', 'tsx', 'dev/demo.ts'], {
      env: {
        DEMO_GATEWAY_PORT: String(gatewayPort),
        DEMO_IDP_PORT: String(idpPort),
        DEMO_ECHO_PORT: String(echoPort),
        PORTCULLIS_DATA_DIR: dataDir,
      },
      onOutput: (text) => (output += text),
    });
    demo = started;
    await waitUntil(() => output.includes('Portcullis demo is running'), {
      what: 'the demo to print its banner',
      failFast: () => (started.hasExited() ? `the demo exited:\n${started.output()}` : undefined),
      detail: started.output,
    });
  });
  after(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('alice signs in and the echo app shows a verified assertion', async () => {
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${publicUrl}/`);
    const { final } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
    assert.equal(final.status, 200);
    assert.match(final.body, /Echo app/);
    assert.match(final.body, /verified against/);
    assert.match(final.body, /alice@example\.com/);
    const admins = await browser.request(`${publicUrl}/admins/`);
    assert.equal(admins.status, 200);
  });

  test('bob signs in and gets 403 on /admins/', async () => {
    const browser = new TestBrowser();
    const { final: loginPage } = await browser.navigate(`${publicUrl}/admins/`);
    const { final } = await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
    assert.equal(final.status, 403);
    assert.equal((await browser.request(`${publicUrl}/`)).status, 200);
  });
});
