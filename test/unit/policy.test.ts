// Route matching (most specific wins, segment-aware, loose for protected routes, exact for public
// ones) and the allow/deny decision.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { routeSchema } from '../../src/config/schema.js';
import type { Identity } from '../../src/core/identity.js';
import { decide } from '../../src/policy/decide.js';
import { compileRoutes, type CompiledRoute, type RouteTable } from '../../src/policy/route-table.js';

/** Routes go through the schema, as the loader does, so defaults and normalisation apply. */
function table(...routes: Array<Record<string, unknown>>): RouteTable {
  return compileRoutes(
    routes.map((route) => routeSchema.parse({ upstream: 'http://127.0.0.1:9000', ...route })),
  );
}

function route(fields: Record<string, unknown>): CompiledRoute {
  const compiled = table({ id: 'r', ...fields }).routes[0];
  assert.ok(compiled);
  return compiled;
}

function matchedId(routes: RouteTable, host: string, path: string): string | null {
  return routes.match(host, path)?.id ?? null;
}

function identity(fields: Partial<Identity> = {}): Identity {
  return {
    subject: 'corp:1234',
    providerId: 'corp',
    userId: 'user-1',
    username: 'alice',
    email: 'alice@example.com',
    name: 'Alice',
    groups: [],
    roles: [],
    ...fields,
  };
}

describe('route table', () => {
  const specific = table(
    { id: 'any-root', path: '/', allow: { authenticated: true } },
    { id: 'any-app', path: '/app/', allow: { authenticated: true } },
    { id: 'wild-root', host: '*.example.com', path: '/', allow: { authenticated: true } },
    { id: 'exact-root', host: 'grafana.example.com', path: '/', allow: { authenticated: true } },
    { id: 'exact-app', host: 'grafana.example.com', path: '/app/', allow: { authenticated: true } },
    {
      id: 'exact-app-deep',
      host: 'grafana.example.com',
      path: '/app/admin/',
      allow: { authenticated: true },
    },
  );

  const specificityCases: Array<[host: string, path: string, expected: string | null]> = [
    ['grafana.example.com', '/', 'exact-root'],
    ['grafana.example.com', '/other', 'exact-root'],
    ['grafana.example.com', '/app/x', 'exact-app'],
    ['grafana.example.com', '/app/admin/users', 'exact-app-deep'],
    ['grafana.example.com', '/app/administrator', 'exact-app'],
    ['wiki.example.com', '/app/x', 'wild-root'], // a wildcard host beats any host, even against a longer path
    ['wiki.example.com', '/', 'wild-root'],
    ['elsewhere.test', '/app/x', 'any-app'],
    ['elsewhere.test', '/x', 'any-root'],
    ['example.com', '/', 'any-root'],
  ];
  for (const [host, path, expected] of specificityCases) {
    test(`most specific route wins: ${host}${path} → ${expected}`, () => {
      assert.equal(matchedId(specific, host, path), expected);
    });
  }

  test('the declaration order does not change which route wins', () => {
    const reversed = table(
      { id: 'exact-app', host: 'grafana.example.com', path: '/app/', allow: { authenticated: true } },
      { id: 'exact-root', host: 'grafana.example.com', path: '/', allow: { authenticated: true } },
      { id: 'wild-root', host: '*.example.com', path: '/', allow: { authenticated: true } },
      { id: 'any-app', path: '/app/', allow: { authenticated: true } },
    ).routes.map((r) => r.id);
    assert.deepEqual(reversed, ['exact-app', 'exact-root', 'wild-root', 'any-app']);
    const forward = table(
      { id: 'any-app', path: '/app/', allow: { authenticated: true } },
      { id: 'wild-root', host: '*.example.com', path: '/', allow: { authenticated: true } },
      { id: 'exact-root', host: 'grafana.example.com', path: '/', allow: { authenticated: true } },
      { id: 'exact-app', host: 'grafana.example.com', path: '/app/', allow: { authenticated: true } },
    );
    assert.equal(matchedId(forward, 'grafana.example.com', '/app/'), 'exact-app');
    assert.equal(matchedId(forward, 'grafana.example.com', '/x'), 'exact-root');
  });

  test('no route for an unknown host when every route names a host', () => {
    const hosted = table({ id: 'g', host: 'grafana.example.com', allow: { authenticated: true } });
    assert.equal(matchedId(hosted, 'other.example.com', '/'), null);
    assert.deepEqual(hosted.hosts, ['grafana.example.com']);
  });

  test('a configured host with a port or upper case still matches the bare lowercase host', () => {
    const hosted = table({ id: 'g', host: 'Grafana.Example.com:8443', allow: { authenticated: true } });
    assert.equal(matchedId(hosted, 'grafana.example.com', '/'), 'g');
  });

  describe('segment-aware prefixes', () => {
    const admins = table(
      { id: 'admins', path: '/admins/', allow: { groups: ['admins'] } },
      { id: 'rest', path: '/', allow: { authenticated: true } },
    );
    const cases: Array<[string, string]> = [
      // Spellings Windows, IIS, Tomcat or Spring serve as /admins/: only ever the stricter route.
      ['/admins./', 'admins'],
      ['/admins../x', 'admins'],
      ['/admins%20/', 'admins'],
      ['/admins.%20./x', 'admins'],
      ['/ADMINS%3B/', 'admins'],
      ['/admins%3Bjsessionid=1/x', 'admins'],
      ['/Admins;x./', 'admins'],
      ['/admins', 'admins'],
      ['/admins/', 'admins'],
      ['/admins/x', 'admins'],
      ['/admins/x/y', 'admins'],
      ['/adminsx', 'rest'],
      ['/adminsx/y', 'rest'],
      ['/admin', 'rest'],
      ['/x/admins/', 'rest'],
    ];
    for (const [path, expected] of cases) {
      test(`${path} → ${expected}`, () => assert.equal(matchedId(admins, 'any.test', path), expected));
    }

    test("'/admins' without a trailing slash also covers the segment", () => {
      const noSlash = table(
        { id: 'admins', path: '/admins', allow: { groups: ['admins'] } },
        { id: 'rest', path: '/', allow: { authenticated: true } },
      );
      assert.equal(matchedId(noSlash, 'any.test', '/admins/x'), 'admins');
      assert.equal(matchedId(noSlash, 'any.test', '/adminsx'), 'rest');
    });
  });

  describe('protected routes match case-insensitively and without ;params', () => {
    const routes = table(
      { id: 'admins', path: '/admins/', allow: { groups: ['admins'] } },
      { id: 'public-root', path: '/', public: true },
    );
    for (const path of [
      '/ADMINS/',
      '/Admins',
      '/admins;x/y',
      '/Admins;jsessionid=1',
      '/ADMINS;a=b/c;d',
      '/admins/x;y',
    ]) {
      test(`${path} lands on the protected route`, () => {
        assert.equal(matchedId(routes, 'any.test', path), 'admins');
      });
    }
    test("'/adminsx;y' stays outside the protected segment", () => {
      assert.equal(matchedId(routes, 'any.test', '/adminsx;y/z'), 'public-root');
    });
  });

  describe('public routes match only the exact spelling', () => {
    const routes = table(
      { id: 'public', path: '/public/', public: true },
      { id: 'protected-root', path: '/', allow: { authenticated: true } },
    );
    test('/public/x is public', () => assert.equal(matchedId(routes, 'any.test', '/public/x'), 'public'));
    test('/public is public', () => assert.equal(matchedId(routes, 'any.test', '/public'), 'public'));
    for (const path of ['/PUBLIC/x', '/Public/x', '/public;x/y', '/publicx']) {
      test(`${path} falls to the next (protected) route`, () => {
        assert.equal(matchedId(routes, 'any.test', path), 'protected-root');
      });
    }
    test('with no route behind it, a variant spelling matches nothing', () => {
      const only = table({ id: 'public', path: '/public/', public: true });
      assert.equal(matchedId(only, 'any.test', '/PUBLIC/x'), null);
      assert.equal(matchedId(only, 'any.test', '/public/x'), 'public');
    });
  });

  describe('wildcard hosts', () => {
    for (const pattern of ['*.example.com', '.example.com']) {
      const routes = table({ id: 'wild', host: pattern, allow: { authenticated: true } });
      const cases: Array<[string, string | null]> = [
        ['a.example.com', 'wild'],
        ['a.b.example.com', 'wild'],
        ['example.com', null],
        ['badexample.com', null],
        ['a.example.com.evil.test', null],
        ['a.example.org', null],
      ];
      for (const [host, expected] of cases) {
        test(`${pattern} vs ${host} → ${String(expected)}`, () =>
          assert.equal(matchedId(routes, host, '/'), expected));
      }
    }
  });

  test('compiled routes carry id, upstream, public flag and description', () => {
    const compiled = table({
      host: 'app.example.com',
      path: '/x/',
      upstream: 'http://10.0.0.1:8080/base',
      public: true,
    });
    const route = compiled.routes[0];
    assert.ok(route);
    assert.equal(route.id, 'app.example.com/x/');
    assert.equal(route.upstream.href, 'http://10.0.0.1:8080/base');
    assert.equal(route.isPublic, true);
    assert.equal(route.allow, null);
    assert.equal(route.description, 'app.example.com/x/');
  });
});

describe('decide()', () => {
  test('a public route is public for anyone, signed in or not', () => {
    const publicRoute = route({ public: true });
    assert.deepEqual(decide(publicRoute, null), { kind: 'public', reasons: ['public-route'] });
    assert.equal(decide(publicRoute, identity()).kind, 'public');
  });

  test('no identity on a protected route means login', () => {
    assert.deepEqual(decide(route({ allow: { authenticated: true } }), null), {
      kind: 'login',
      reasons: ['no-session'],
    });
  });

  test('authenticated: true allows anyone signed in', () => {
    const who = identity({ email: null, groups: [] });
    assert.deepEqual(decide(route({ allow: { authenticated: true } }), who), {
      kind: 'allow',
      identity: who,
      reasons: ['authenticated-ok'],
    });
  });

  test('a group rule allows a member and denies a non-member (case-sensitive)', () => {
    const admins = route({ allow: { groups: ['admins'] } });
    const member = decide(admins, identity({ groups: ['users', 'admins'] }));
    assert.equal(member.kind, 'allow');
    assert.deepEqual(member.reasons, ['group-ok']);
    assert.deepEqual(decide(admins, identity({ groups: ['users'] })).reasons, ['no-rule-matched']);
    assert.equal(decide(admins, identity({ groups: ['Admins'] })).kind, 'deny');
  });

  test('an email rule matches case-insensitively', () => {
    const rule = route({ allow: { emails: ['Alice@Example.COM'] } });
    assert.deepEqual(decide(rule, identity({ email: 'alice@example.com' })).reasons, ['email-ok']);
    assert.deepEqual(decide(rule, identity({ email: 'ALICE@EXAMPLE.COM' })).reasons, ['email-ok']);
    assert.deepEqual(decide(rule, identity({ email: 'bob@example.com' })).reasons, ['no-rule-matched']);
    assert.deepEqual(decide(rule, identity({ email: 'alice@example.com.evil.test' })).reasons, [
      'no-rule-matched',
    ]);
  });

  test('an exact email domain matches only that domain', () => {
    const rule = route({ allow: { emailDomains: ['example.com'] } });
    assert.deepEqual(decide(rule, identity({ email: 'alice@example.com' })).reasons, ['email-domain-ok']);
    assert.deepEqual(decide(rule, identity({ email: 'alice@EXAMPLE.com' })).reasons, ['email-domain-ok']);
    assert.equal(decide(rule, identity({ email: 'alice@sub.example.com' })).kind, 'deny');
    assert.equal(decide(rule, identity({ email: 'alice@badexample.com' })).kind, 'deny');
    assert.equal(decide(rule, identity({ email: 'example.com@evil.test' })).kind, 'deny');
  });

  for (const pattern of ['.example.com', '*.example.com']) {
    test(`'${pattern}' matches subdomains only`, () => {
      const rule = route({ allow: { emailDomains: [pattern] } });
      assert.deepEqual(decide(rule, identity({ email: 'alice@sub.example.com' })).reasons, [
        'email-domain-ok',
      ]);
      assert.deepEqual(decide(rule, identity({ email: 'alice@a.b.example.com' })).reasons, [
        'email-domain-ok',
      ]);
      assert.equal(decide(rule, identity({ email: 'alice@example.com' })).kind, 'deny');
      assert.equal(decide(rule, identity({ email: 'alice@badexample.com' })).kind, 'deny');
    });
  }

  test('every matching rule is listed as a reason', () => {
    const rule = route({
      allow: {
        authenticated: true,
        groups: ['admins'],
        emails: ['alice@example.com'],
        emailDomains: ['example.com'],
      },
    });
    assert.deepEqual(decide(rule, identity({ groups: ['admins'] })).reasons, [
      'authenticated-ok',
      'group-ok',
      'email-ok',
      'email-domain-ok',
    ]);
  });

  test('default deny: no rule matched', () => {
    const who = identity({ groups: ['users'] });
    assert.deepEqual(decide(route({ allow: { groups: ['admins'], emails: ['bob@example.com'] } }), who), {
      kind: 'deny',
      identity: who,
      reasons: ['no-rule-matched'],
    });
  });

  test('a route with no allow denies everyone', () => {
    const noAllow = route({});
    assert.equal(noAllow.allow, null);
    for (const who of [identity(), identity({ groups: ['admins'] }), identity({ email: null })]) {
      assert.deepEqual(decide(noAllow, who).reasons, ['no-rule-matched']);
      assert.equal(decide(noAllow, who).kind, 'deny');
    }
  });

  test('an empty allow section denies everyone', () => {
    assert.equal(decide(route({ allow: {} }), identity({ groups: ['admins'] })).kind, 'deny');
  });

  test('a null email never matches email or email-domain rules', () => {
    const rule = route({
      allow: { emails: ['alice@example.com'], emailDomains: ['example.com', '.example.com'] },
    });
    assert.deepEqual(decide(rule, identity({ email: null })), {
      kind: 'deny',
      identity: identity({ email: null }),
      reasons: ['no-rule-matched'],
    });
  });

  test('an email without a usable domain never matches a domain rule', () => {
    const rule = route({ allow: { emailDomains: ['example.com'] } });
    assert.equal(decide(rule, identity({ email: 'example.com' })).kind, 'deny');
    assert.equal(decide(rule, identity({ email: 'alice@' })).kind, 'deny');
    assert.equal(decide(rule, identity({ email: '@example.com' })).kind, 'deny');
  });
});
