import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  loginReturnUrlFor,
  MAX_RETURN_URL_LENGTH,
  parseAllowedHostEntry,
  safeReturnUrl,
  type ReturnUrlPolicy,
} from '../../src/login/return-url.js';
import { corpusLines, corpusPairs, expandTokens, randomGenerator } from '../support/attack-corpus.js';

const policy: ReturnUrlPolicy = {
  publicOrigin: 'https://apps.example.com',
  allowedHosts: ['grafana.example.com', '.corp.example.com'],
};

// --- corpora ----------------------------------------------------------------------------------

const attacks = corpusLines('open-redirects.txt');

test('open-redirect corpus has at least 60 attacks', () => {
  assert.ok(attacks.length >= 60, `only ${attacks.length} attacks`);
});

for (const line of attacks) {
  test(`refuses open redirect ${line}`, () => {
    assert.equal(safeReturnUrl(expandTokens(line), policy), null);
  });
}

for (const { input, expected, line } of corpusPairs('allowed-returns.txt')) {
  test(`accepts return URL ${line.replace('\t', ' -> ')}`, () => {
    assert.equal(safeReturnUrl(input, policy), expected);
  });
}

// --- targeted cases ---------------------------------------------------------------------------

test('refuses missing, empty and over-long candidates', () => {
  assert.equal(safeReturnUrl(null, policy), null);
  assert.equal(safeReturnUrl(undefined, policy), null);
  assert.equal(safeReturnUrl('', policy), null);
  const longest = `/${'a'.repeat(MAX_RETURN_URL_LENGTH - 1)}`;
  assert.equal(safeReturnUrl(longest, policy), longest);
  assert.equal(safeReturnUrl(`${longest}a`, policy), null);
});

test('looks through up to 4 rounds of percent-decoding and refuses deeper nesting', () => {
  const encodeTimes = (text: string, times: number): string =>
    times === 0 ? text : encodeTimes(text.replaceAll('%', '%25'), times - 1);
  assert.equal(safeReturnUrl(encodeTimes('/%2Fevil.example', 3), policy), null);
  // '/x%3Fy' needs one decoding; three more layers of '%25' make four, the most we look through.
  assert.equal(safeReturnUrl(encodeTimes('/x%3Fy', 3), policy), encodeTimes('/x%3Fy', 3));
  assert.equal(safeReturnUrl(encodeTimes('/x%3Fy', 4), policy), null);
});

test('allowed host entries: exact, leading dot, wildcard, port and apex semantics', () => {
  const check = (allowedHosts: string[], candidate: string): string | null =>
    safeReturnUrl(candidate, { publicOrigin: 'https://apps.example.com', allowedHosts });

  assert.equal(check(['*.example.com'], 'https://x.example.com/'), 'https://x.example.com/');
  assert.equal(check(['.example.com'], 'https://x.y.example.com/'), 'https://x.y.example.com/');
  assert.equal(check(['*.example.com'], 'https://example.com/'), null, 'suffix entries exclude the apex');
  assert.equal(check(['.example.com'], 'https://evilexample.com/'), null);
  assert.equal(check(['example.com'], 'https://x.example.com/'), null, 'exact entries exclude subdomains');
  assert.equal(
    check(['Grafana.Example.com.'], 'https://grafana.example.com/'),
    'https://grafana.example.com/',
  );
  assert.equal(
    check(['grafana.example.com:3000'], 'https://grafana.example.com:3000/'),
    'https://grafana.example.com:3000/',
  );
  assert.equal(check(['grafana.example.com:3000'], 'https://grafana.example.com/'), null);
  assert.equal(
    check(['grafana.example.com:443'], 'https://grafana.example.com/'),
    'https://grafana.example.com/',
  );
  assert.equal(
    check(['.corp.example.com:8443'], 'https://a.corp.example.com:8443/'),
    'https://a.corp.example.com:8443/',
  );
  assert.equal(check(['.corp.example.com:8443'], 'https://a.corp.example.com:9443/'), null);
  assert.equal(check(['*', '.', '', '*.', 'a/b', 'u@h'], 'https://evil.example/'), null);
});

test('IDN allowed hosts compare on the punycoded form', () => {
  const idnPolicy = { publicOrigin: 'https://apps.example.com', allowedHosts: ['bücher.example.com'] };
  assert.equal(
    safeReturnUrl('https://xn--bcher-kva.example.com/x', idnPolicy),
    'https://xn--bcher-kva.example.com/x',
  );
  assert.equal(safeReturnUrl('https://bücher.example.com/x', idnPolicy), null, 'raw Unicode hosts refused');
  assert.deepEqual(parseAllowedHostEntry('*.Bücher.example.com:8080'), {
    hostname: 'xn--bcher-kva.example.com',
    subdomains: true,
    port: 8080,
  });
});

test('http public origin: port must match, http and https allowed hosts are fine', () => {
  const local: ReturnUrlPolicy = { publicOrigin: 'http://localhost:8080', allowedHosts: ['.localhost'] };
  assert.equal(safeReturnUrl('http://localhost:8080/x?y=1', local), '/x?y=1');
  assert.equal(safeReturnUrl('http://LOCALHOST:8080/x', local), '/x');
  assert.equal(safeReturnUrl('http://localhost:8081/x', local), null);
  assert.equal(safeReturnUrl('http://localhost/x', local), null);
  assert.equal(safeReturnUrl('https://localhost:8080/x', local), null, 'other scheme = other origin');
  assert.equal(safeReturnUrl('http://app.localhost:3000/x', local), 'http://app.localhost:3000/x');
  assert.equal(safeReturnUrl('https://app.localhost/x', local), 'https://app.localhost/x');
  assert.equal(safeReturnUrl('/x', local), '/x');
});

test('a malformed public origin is a configuration error', () => {
  assert.throws(() => safeReturnUrl('/x', { publicOrigin: 'apps.example.com', allowedHosts: [] }), TypeError);
  assert.throws(
    () => safeReturnUrl('/x', { publicOrigin: 'ftp://apps.example.com', allowedHosts: [] }),
    TypeError,
  );
});

test('loginReturnUrlFor: relative on the public origin, absolute elsewhere, never a fragment', () => {
  const origin = 'https://apps.example.com';
  assert.equal(loginReturnUrlFor(new URL('https://apps.example.com/d/1?x=2#f'), origin), '/d/1?x=2');
  assert.equal(loginReturnUrlFor(new URL('https://apps.example.com'), origin), '/');
  assert.equal(loginReturnUrlFor(new URL('https://apps.example.com:443/a'), origin), '/a');
  assert.equal(loginReturnUrlFor(new URL('https://apps.example.com./a'), `${origin}/`), '/a');
  assert.equal(
    loginReturnUrlFor(new URL('https://grafana.example.com/d/1?x=2#f'), origin),
    'https://grafana.example.com/d/1?x=2',
  );
  assert.equal(loginReturnUrlFor(new URL('http://apps.example.com/a'), origin), 'http://apps.example.com/a');
  assert.equal(
    loginReturnUrlFor(new URL('https://apps.example.com:8443/a'), origin),
    'https://apps.example.com:8443/a',
  );
  assert.equal(
    loginReturnUrlFor(new URL('https://apps.example.com//evil.example/x'), origin),
    '/evil.example/x',
  );
  assert.equal(loginReturnUrlFor(new URL('http://localhost:8080/a?b'), 'http://localhost:8080'), '/a?b');
});

test('loginReturnUrlFor output round-trips through safeReturnUrl', () => {
  const requests = [
    'https://apps.example.com/d/1?x=2',
    'https://apps.example.com/caf%C3%A9?q=a%20b',
    'https://grafana.example.com/d/1?orgId=1',
    'https://a.corp.example.com:8443/x',
  ];
  for (const request of requests) {
    const rd = loginReturnUrlFor(new URL(request), policy.publicOrigin);
    const expected = rd.startsWith('/') ? rd : new URL(rd).href;
    assert.equal(safeReturnUrl(rd, policy), expected, request);
  }
});

// --- property check ---------------------------------------------------------------------------

const DANGEROUS_ALPHABET = [
  '/',
  '\\',
  '%',
  '2',
  'f',
  '5',
  'c',
  '.',
  ':',
  '@',
  '#',
  '?',
  'e',
  'v',
  'i',
  'l',
  '\t',
];
/** Prefixes so that a useful share of the random strings gets past the first checks. */
const PREFIXES = [
  '',
  '',
  '/',
  '/',
  'https:',
  'https://apps.example.com',
  'https://grafana.example.com',
  'http://',
];

function isAllowedAbsolute(result: string): boolean {
  const url = new URL(result);
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return false;
  return url.hostname === 'grafana.example.com' || url.hostname.endsWith('.corp.example.com');
}

test('property: every accepted random dangerous string is a single-slash path or an allowed origin', () => {
  const random = randomGenerator(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  let accepted = 0;
  for (let run = 0; run < 600; run += 1) {
    let candidate = pick(PREFIXES);
    const length = 1 + Math.floor(random() * 14);
    for (let index = 0; index < length; index += 1) candidate += pick(DANGEROUS_ALPHABET);

    const result = safeReturnUrl(candidate, policy);
    if (result === null) continue;
    accepted += 1;
    const message = `${JSON.stringify(candidate)} -> ${JSON.stringify(result)}`;
    assert.doesNotMatch(result, /[\\\t]/, message);
    if (result.startsWith('/')) {
      assert.match(result, /^\/(?:$|[^/\\])/, message);
      assert.equal(new URL(result, 'https://apps.example.com').origin, 'https://apps.example.com', message);
    } else {
      assert.ok(isAllowedAbsolute(result), message);
    }
  }
  assert.ok(accepted > 20, `only ${accepted} random candidates were accepted; the check would be vacuous`);
});
