// Email addresses the gateway believes (src/core/email.ts, issue 12): one well-formed address or
// none, and only a clear yes counts as verified. Then the class through the policy: a malformed
// address never passes an `emails` or `emailDomains` rule, whatever its spelling.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { routeSchema } from '../../src/config/schema.js';
import { saysVerified, wellFormedEmail } from '../../src/core/email.js';
import { emailDomainOf } from '../../src/core/identity.js';
import { decide } from '../../src/policy/decide.js';
import { compileRoutes } from '../../src/policy/route-table.js';
import { aliceIdentity } from '../support/identities.js';

describe('wellFormedEmail', () => {
  const kept: Array<[string, string]> = [
    ['alice@example.com', 'alice@example.com'],
    ['Alice.Smith+tag@Example.COM', 'Alice.Smith+tag@example.com'],
    ['alice@example.com.', 'alice@example.com'],
    ['a@xn--bcher-kva.example', 'a@xn--bcher-kva.example'],
    ["o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk"],
  ];
  for (const [raw, expected] of kept) {
    test(`keeps ${JSON.stringify(raw)} as ${expected}`, () => assert.equal(wellFormedEmail(raw), expected));
  }

  const refused = [
    'attacker@evil.test@example.com',
    'attacker@evil.test%40example.com',
    'a@@example.com',
    '@example.com',
    'alice@',
    'alice',
    'alice@example',
    'alice@localhost',
    'alice@example..com',
    'alice@-example.com',
    'alice@example-.com',
    'alice@exa_mple.com',
    'alice@example.com..',
    'alice@[127.0.0.1]',
    'alice@example.com\u0000',
    'alice\u0000@example.com',
    'alice@example.com\r\nX-Injected: 1',
    'alice@example.com\n',
    'ali ce@example.com',
    'alice@exa mple.com',
    '\talice@example.com',
    'alice@example.com\u00a0',
    'alice@example.com\u2028',
    'alice\u200b@example.com',
    'alice@exämple.com',
    'alice@ｅｘａｍｐｌｅ.com',
    `${'a'.repeat(250)}@example.com`,
    '',
  ];
  for (const raw of refused) {
    test(`refuses ${JSON.stringify(raw)}`, () => assert.equal(wellFormedEmail(raw), null));
  }

  test('null stays null; the domain of a malformed address is null', () => {
    assert.equal(wellFormedEmail(null), null);
    assert.equal(emailDomainOf('attacker@evil.test@example.com'), null);
    assert.equal(emailDomainOf('alice@Example.COM.'), 'example.com');
  });
});

describe('saysVerified', () => {
  for (const yes of [true, 'true']) {
    test(`${JSON.stringify(yes)} is verified`, () => assert.equal(saysVerified(yes), true));
  }
  for (const no of [
    false,
    'false',
    'False',
    'TRUE',
    0,
    1,
    '1',
    'no',
    'yes',
    '',
    null,
    undefined,
    {},
    ['true'],
  ]) {
    test(`${no === undefined ? 'undefined' : JSON.stringify(no)} is not verified`, () =>
      assert.equal(saysVerified(no), false));
  }
});

describe('email rules never match a malformed address', () => {
  const compile = (allow: Record<string, unknown>) => {
    const route = compileRoutes([routeSchema.parse({ upstream: 'http://127.0.0.1:9', allow })]).routes[0];
    assert.ok(route);
    return route;
  };
  const byDomain = compile({ emailDomains: ['example.com'] });
  const byWildcard = compile({ emailDomains: ['*.example.com'] });
  const byAddress = compile({ emails: ['root@example.com'] });

  test('a well-formed address still passes (the test can tell)', () => {
    assert.equal(decide(byDomain, aliceIdentity({ email: 'x@example.com' })).kind, 'allow');
    assert.equal(decide(byWildcard, aliceIdentity({ email: 'x@eu.example.com' })).kind, 'allow');
    assert.equal(decide(byAddress, aliceIdentity({ email: 'Root@Example.com' })).kind, 'allow');
  });

  for (const email of [
    'attacker@evil.test@example.com',
    'attacker@evil.test@eu.example.com',
    'root@example.com@evil.test',
    'root@example.com\u0000',
    'root@example.com ',
    ' root@example.com',
    'root@example.com\r\n',
  ]) {
    test(`${JSON.stringify(email)} passes no email rule`, () => {
      assert.equal(decide(byDomain, aliceIdentity({ email })).kind, 'deny');
      assert.equal(decide(byWildcard, aliceIdentity({ email })).kind, 'deny');
      assert.equal(decide(byAddress, aliceIdentity({ email })).kind, 'deny');
    });
  }
});
