// The open-redirect corpus through a real login: every candidate is sent as `rd` to /.portcullis/login,
// the login completes at the (honest) rogue OP, and the callback must send the browser to '/' on the
// gateway. Positive controls (a same-origin path, an allowed host) run first and prove the return URL
// is honoured at all, so the refusals cannot pass vacuously.
//
// The corpus was written for the policy { publicOrigin: 'https://apps.example.com', allowedHosts:
// ['grafana.example.com', '.corp.example.com'] }. Here the public origin is http://localhost:PORT and
// only grafana.example.com is allowed, so the corpus' apps.example.com and corp.example.com targets
// are simply foreign hosts and must be refused too.
//
// One corpus line is not an attack against this gateway: 'http://grafana.example.com/' is in the corpus as
// a downgrade (public origin https). Here the public origin is itself http, and the documented policy
// (src/login/return-url.ts: "When the public origin is https, every http target is refused") keeps an
// allowed host's http URL, so the exact expected landing is asserted instead of '/'. The https-origin
// downgrade refusal is covered by test/unit/return-url.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { corpusLines, expandTokens } from '../support/attack-corpus.js';
import { TestBrowser } from '../support/browser.js';
import { loginThroughRogue, startRogueStack, userinfo, type RogueStack } from '../support/rogue-stack.js';

const attacks = corpusLines('open-redirects.txt');

/** Corpus lines whose correct landing differs on an http public origin (see the header comment). */
const LANDING_ON_HTTP_ORIGIN: ReadonlyMap<string, string> = new Map([
  ['http://grafana.example.com/', 'http://grafana.example.com/'],
]);

describe('open redirects through the login return URL (rd)', () => {
  let stack: RogueStack;
  before(async () => {
    stack = await startRogueStack({ server: { allowedRedirectHosts: ['grafana.example.com'] } });
    stack.rogue.setAttack('none');
  });
  after(() => stack.close());

  /** Runs a whole login with this rd in a fresh browser; returns the callback's Location. */
  async function landingFor(rd: string): Promise<string | undefined> {
    const browser = new TestBrowser();
    const callback = await loginThroughRogue(stack, browser, rd);
    assert.equal(callback.status, 302, `callback: ${callback.status} ${callback.body.slice(0, 300)}`);
    // The login itself must have worked: a refused rd falls back to '/', it does not fail the login.
    assert.equal((await userinfo(stack, browser)).status, 200, 'the login did not complete');
    return callback.headers.location;
  }

  test('the corpus is there (at least 60 attacks)', () => {
    assert.ok(attacks.length >= 60, `only ${attacks.length} attacks`);
  });

  test('positive control: a same-origin path with a query is kept', async () => {
    assert.equal(await landingFor('/reports?x=1'), '/reports?x=1');
  });

  test('positive control: an absolute URL on the gateway’s own origin comes back as a path', async () => {
    assert.equal(await landingFor(`${stack.publicUrl}/reports?x=1#frag`), '/reports?x=1');
  });

  test('positive control: an allowed host from server.allowedRedirectHosts is kept', async () => {
    assert.equal(await landingFor('https://grafana.example.com/d/1'), 'https://grafana.example.com/d/1');
  });

  for (const line of attacks) {
    const expected = LANDING_ON_HTTP_ORIGIN.get(line);
    if (expected !== undefined) {
      test(`rd ${JSON.stringify(line)} is an allowed host, not a downgrade, on an http origin`, async () => {
        assert.equal(await landingFor(expandTokens(line)), expected);
      });
      continue;
    }
    test(`refuses rd ${JSON.stringify(line)}`, async () => {
      assert.equal(await landingFor(expandTokens(line)), '/');
    });
  }
});
