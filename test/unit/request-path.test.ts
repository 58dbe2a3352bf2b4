import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_PATH_LENGTH, normalizeRequestTarget } from '../../src/http/request-path.js';
import { corpusPairs, randomGenerator } from '../support/attack-corpus.js';

/** path + search on success, 'REFUSE' otherwise: the corpus notation. */
function outcome(rawTarget: string): string {
  const result = normalizeRequestTarget(rawTarget);
  return result.ok ? result.path + result.search : 'REFUSE';
}

// --- corpus -----------------------------------------------------------------------------------

for (const { input, expected, line } of corpusPairs('path-normalization.txt')) {
  test(`normalises ${JSON.stringify(line.slice(0, line.indexOf('\t')))} to ${expected}`, () => {
    assert.equal(outcome(input), expected);
  });
}

// --- targeted cases ---------------------------------------------------------------------------

test('splits path and search at the first ?', () => {
  assert.deepEqual(normalizeRequestTarget('/a/../b?c=/../d?e'), {
    ok: true,
    path: '/b',
    search: '?c=/../d?e',
  });
  assert.deepEqual(normalizeRequestTarget('/a'), { ok: true, path: '/a', search: '' });
  assert.deepEqual(normalizeRequestTarget('/a?'), { ok: true, path: '/a', search: '?' });
});

test('refusals carry a short reason that does not echo the input', () => {
  const cases: Array<[string, RegExp]> = [
    ['*', /asterisk-form/],
    ['http://evil.example/<script>', /absolute-form/],
    ['evil', /must start with \//],
    ['/a%2Fb', /encoded slash/],
    ['/a%5Cb', /encoded backslash/],
    ['/a%0a<script>', /encoded control/],
    ['/a%zz', /malformed percent-encoding/],
    ['/a\\b', /backslash in path/],
    ['/a b', /space in path/],
    ['/a\u0000', /control character in path/],
    ['/x/..;/admins', /ambiguous dot, space or parameter-only segment/],
    ['/x/.%20/admins', /ambiguous dot, space or parameter-only segment/],
  ];
  for (const [target, reason] of cases) {
    const result = normalizeRequestTarget(target);
    assert.ok(!result.ok, target);
    assert.match(result.reason, reason, target);
    assert.ok(result.reason.length <= 60 && !result.reason.includes('<'), result.reason);
  }
});

test('refuses paths longer than the limit, before or after normalisation', () => {
  const longest = `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`;
  assert.equal(outcome(longest), longest);
  assert.equal(outcome(`${longest}a`), 'REFUSE');
  // 3 000 raw 'é' expand to 18 000 characters of percent-encoding.
  assert.equal(outcome(`/${'é'.repeat(3000)}`), 'REFUSE');
  // A long query does not count against the path limit.
  assert.equal(outcome(`/a?${'q'.repeat(MAX_PATH_LENGTH + 10)}`), `/a?${'q'.repeat(MAX_PATH_LENGTH + 10)}`);
});

test('a route prefix cannot be bypassed by encodings of the same path', () => {
  const spellings = [
    '/admins/x',
    '/%61dmins/x',
    '/%61%64%6D%69%6E%73/x',
    '//admins//x',
    '/./admins/./x',
    '/public/../admins/x',
    '/public/%2e%2e/admins/x',
    '/public/.%2E/admins/x',
    '/../admins/x',
  ];
  for (const spelling of spellings) assert.equal(outcome(spelling), '/admins/x', spelling);
  assert.equal(outcome('/admins;x/y'), '/admins;x/y', 'matrix parameters stay inside the segment');
});

// --- property check ---------------------------------------------------------------------------

const PATH_ALPHABET = [
  '/',
  '/',
  '.',
  '.',
  '%',
  '2',
  'e',
  'E',
  'f',
  '5',
  'c',
  '4',
  '1',
  'a',
  ';',
  '?',
  '\\',
  '~',
  ' ',
];

test('property: normalisation is idempotent and leaves no empty or dot segments', () => {
  const random = randomGenerator(0xc0ffee);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  let accepted = 0;
  for (let run = 0; run < 1000; run += 1) {
    let target = '/';
    const length = Math.floor(random() * 16);
    for (let index = 0; index < length; index += 1) target += pick(PATH_ALPHABET);

    const result = normalizeRequestTarget(target);
    if (!result.ok) continue;
    accepted += 1;
    const message = `${JSON.stringify(target)} -> ${JSON.stringify(result)}`;
    const { path, search } = result;
    assert.ok(path.startsWith('/'), message);
    assert.ok(!path.includes('//'), message);
    assert.ok(!`${path}/`.includes('/./') && !`${path}/`.includes('/../'), message);
    assert.ok(target.endsWith(search), message);
    assert.deepEqual(normalizeRequestTarget(path + search), result, `not idempotent: ${message}`);
  }
  assert.ok(accepted > 100, `only ${accepted} random targets were accepted; the check would be vacuous`);
});
