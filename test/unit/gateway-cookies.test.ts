// hideGatewayCookies (src/session/cookie.ts): the gateway's own cookies are cut out of every
// forwarded Cookie header, whatever the spacing or order, and nothing else is touched.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { gatewayCookieNames, hideGatewayCookies } from '../../src/session/cookie.js';

const NAMES = gatewayCookieNames({ name: 'portcullis', secure: false });

function hidden(cookie: string | undefined): string | undefined {
  const headers: IncomingHttpHeaders = cookie === undefined ? {} : { cookie };
  hideGatewayCookies(headers, NAMES);
  return headers.cookie;
}

describe('gatewayCookieNames', () => {
  test('the session cookie and the two derived from it, prefixes as the scheme allows', () => {
    assert.deepEqual(NAMES, ['portcullis', 'portcullis-rounds', 'portcullis-logout']);
    assert.deepEqual(gatewayCookieNames({ name: '__Host-portcullis', secure: true }), [
      '__Host-portcullis',
      '__Host-portcullis-rounds',
      '__Secure-portcullis-logout',
    ]);
  });
});

describe('hideGatewayCookies', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['no Cookie header', undefined, undefined],
    ['only the session cookie', 'portcullis=s%3Aabc.sig', undefined],
    ['all three gateway cookies', 'portcullis=a; portcullis-rounds=2; portcullis-logout=x', undefined],
    ['app cookies around it', 'theme=dark; portcullis=s%3Aabc.sig; app=1', 'theme=dark; app=1'],
    ['no spaces after ;', 'a=1;portcullis=x;b=2', 'a=1; b=2'],
    ['tabs and spaces before the name', 'a=1;\t portcullis=x; b=2', 'a=1; b=2'],
    ['a space before the =', 'a=1; portcullis =x', 'a=1'],
    ['sent twice', 'portcullis=x; a=1; portcullis=y', 'a=1'],
    ['a pair without =', 'portcullis; a=1', 'a=1'],
    [
      'look-alike names are the app’s',
      'portcullisX=1; my-portcullis=2; portcullis-roundsX=3',
      'portcullisX=1; my-portcullis=2; portcullis-roundsX=3',
    ],
    ['nothing of ours', 'a=1; b=2', 'a=1; b=2'],
    ['empty pairs dropped with ours', ';; portcullis=x ;; a=1', 'a=1'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(hidden(input), expected));
  }
});
