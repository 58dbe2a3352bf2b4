// Group sync rules (core/groups.ts) and roles (core/roles.ts): what a login does to a user's groups.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileGroupRules,
  filterIdpGroups,
  groupNamesOf,
  planGroupSync,
  type CompiledGroupRules,
  type GroupChange,
  type Membership,
} from '../../src/core/groups.js';
import { roleMapReachesAdmin, rolesFor } from '../../src/core/roles.js';
import type { GroupsConfig, GroupSyncConfig } from '../../src/config/schema.js';

function rules(sync: Partial<GroupSyncConfig> = {}, groups: Partial<GroupsConfig> = {}): CompiledGroupRules {
  return compileGroupRules(
    { enabled: true, include: [], exclude: [], rename: {}, ...sync },
    { default: ['all-users'], builtIn: ['break-glass'], ...groups },
  );
}

const sync = (group: string): Membership => ({ group, source: 'sync' });
const manual = (group: string): Membership => ({ group, source: 'manual' });
const byDefault = (group: string): Membership => ({ group, source: 'default' });

/** The plan's order is incidental; compare it as sets. */
function normalised(change: GroupChange): GroupChange {
  return {
    add: [...change.add].sort((a, b) => a.group.localeCompare(b.group)),
    remove: [...change.remove].sort(),
  };
}

describe('filterIdpGroups', () => {
  const cases: {
    name: string;
    sync?: Partial<GroupSyncConfig>;
    groups?: Partial<GroupsConfig>;
    input: string[];
    expected: string[];
  }[] = [
    { name: 'an empty include list keeps every group', input: ['a', 'b'], expected: ['a', 'b'] },
    {
      name: 'include keeps only groups matching one of its patterns',
      sync: { include: ['^app-', '^ops$'] },
      input: ['app-wiki', 'ops', 'hr', 'devops'],
      expected: ['app-wiki', 'ops'],
    },
    {
      name: 'exclude drops groups matching any of its patterns',
      sync: { exclude: ['^hr$', 'secret'] },
      input: ['hr', 'eng', 'top-secret-x'],
      expected: ['eng'],
    },
    {
      name: 'exclude applies after include: matching both drops the group',
      sync: { include: ['^app-'], exclude: ['^app-legacy$'] },
      input: ['app-wiki', 'app-legacy', 'other'],
      expected: ['app-wiki'],
    },
    {
      name: 'patterns are not anchored implicitly: "admins" also matches "not-admins"',
      sync: { include: ['admins'] },
      input: ['admins', 'not-admins', 'admins-old', 'users'],
      expected: ['admins', 'not-admins', 'admins-old'],
    },
    {
      name: 'anchors written by the user match one whole name',
      sync: { include: ['^admins$'] },
      input: ['admins', 'not-admins', 'admins-old'],
      expected: ['admins'],
    },
    {
      name: 'patterns are case-sensitive (no flags added)',
      sync: { include: ['^admins$'] },
      input: ['Admins', 'admins'],
      expected: ['admins'],
    },
    {
      name: 'rename applies after the filters, which see the IdP names',
      sync: { include: ['^okta-'], rename: { 'okta-admins': 'admins' } },
      input: ['okta-admins', 'admins', 'okta-users'],
      expected: ['admins', 'okta-users'],
    },
    {
      name: 'a filter written against the renamed name does not see it',
      sync: { include: ['^admins$'], rename: { 'okta-admins': 'admins' } },
      input: ['okta-admins'],
      expected: [],
    },
    {
      name: 'exclude sees the IdP name, not the renamed one',
      sync: { exclude: ['^okta-admins$'], rename: { 'okta-admins': 'admins' } },
      input: ['okta-admins', 'okta-users'],
      expected: ['okta-users'],
    },
    {
      name: 'a built-in group name is dropped',
      input: ['break-glass', 'eng'],
      expected: ['eng'],
    },
    {
      name: 'a rename onto a built-in name is dropped too',
      sync: { rename: { 'idp-admins': 'break-glass' } },
      input: ['idp-admins', 'eng'],
      expected: ['eng'],
    },
    {
      name: 'duplicates are removed, first occurrence kept in order',
      input: ['b', 'a', 'b', 'c', 'a'],
      expected: ['b', 'a', 'c'],
    },
    {
      name: 'two IdP names renamed onto one name give it once',
      sync: { rename: { 'eng-eu': 'eng', 'eng-us': 'eng' } },
      input: ['eng-eu', 'x', 'eng-us'],
      expected: ['eng', 'x'],
    },
    { name: 'an empty group name is dropped', input: ['', 'eng'], expected: ['eng'] },
  ];
  for (const { name, sync: syncConfig, groups, input, expected } of cases) {
    test(name, () => {
      assert.deepEqual(filterIdpGroups(input, rules(syncConfig, groups)), expected);
    });
  }
});

describe('planGroupSync', () => {
  const cases: {
    name: string;
    current: Membership[];
    fromIdp: string[] | undefined;
    sync?: Partial<GroupSyncConfig>;
    groups?: Partial<GroupsConfig>;
    expected: GroupChange;
  }[] = [
    {
      name: 'first login: the default groups and the listed groups (as sync) are added',
      current: [],
      fromIdp: ['eng', 'ops'],
      expected: { add: [byDefault('all-users'), sync('eng'), sync('ops')], remove: [] },
    },
    {
      name: 'groups pass the filters before they are added',
      current: [byDefault('all-users')],
      fromIdp: ['app-wiki', 'hr'],
      sync: { include: ['^app-'], rename: { 'app-wiki': 'wiki' } },
      expected: { add: [sync('wiki')], remove: [] },
    },
    {
      name: 'a sync membership the IdP no longer lists is removed',
      current: [byDefault('all-users'), sync('eng'), sync('ops')],
      fromIdp: ['eng'],
      expected: { add: [], remove: ['ops'] },
    },
    {
      name: 'a listed group already held through sync is left as it is',
      current: [byDefault('all-users'), sync('eng')],
      fromIdp: ['eng'],
      expected: { add: [], remove: [] },
    },
    {
      name: 'an IdP that sent no groups claim changes nothing',
      current: [byDefault('all-users'), sync('eng'), manual('ops')],
      fromIdp: undefined,
      expected: { add: [], remove: [] },
    },
    {
      name: 'an IdP that sent an empty groups claim changes nothing',
      current: [byDefault('all-users'), sync('eng'), manual('ops')],
      fromIdp: [],
      expected: { add: [], remove: [] },
    },
    {
      name: 'groups listed but all filtered out do count as listed: sync memberships are removed',
      current: [byDefault('all-users'), sync('eng')],
      fromIdp: ['hr'],
      sync: { exclude: ['^hr$'] },
      expected: { add: [], remove: ['eng'] },
    },
    {
      name: 'an IdP listing a built-in group grants nothing',
      current: [byDefault('all-users')],
      fromIdp: ['break-glass', 'eng'],
      expected: { add: [sync('eng')], remove: [] },
    },
    {
      name: 'a built-in group is never removed by sync, whatever its source',
      current: [byDefault('all-users'), manual('break-glass')],
      fromIdp: ['eng'],
      groups: { builtIn: ['break-glass'] },
      expected: { add: [sync('eng')], remove: [] },
    },
    {
      name: 'a built-in group held as sync (made built-in later) is not removed by sync either',
      current: [byDefault('all-users'), sync('break-glass')],
      fromIdp: ['eng'],
      expected: { add: [sync('eng')], remove: [] },
    },
    {
      name: 'manual memberships survive a sync that does not list them',
      current: [byDefault('all-users'), manual('ops')],
      fromIdp: ['eng'],
      expected: { add: [sync('eng')], remove: [] },
    },
    {
      name: 'a listed group held as manual keeps its source (no duplicate, not downgraded)',
      current: [byDefault('all-users'), manual('eng')],
      fromIdp: ['eng'],
      expected: { add: [], remove: [] },
    },
    {
      name: 'a listed group held as default keeps its source',
      current: [byDefault('all-users'), byDefault('staff')],
      fromIdp: ['staff'],
      groups: { default: ['all-users', 'staff'] },
      expected: { add: [], remove: [] },
    },
    {
      name: 'a default group the IdP lists but the user lacks is added once, as default',
      current: [],
      fromIdp: ['all-users'],
      expected: { add: [byDefault('all-users')], remove: [] },
    },
    {
      name: 'every user gets the default groups, also when the IdP lists none',
      current: [sync('eng')],
      fromIdp: undefined,
      groups: { default: ['all-users', 'staff'] },
      expected: { add: [byDefault('all-users'), byDefault('staff')], remove: [] },
    },
    {
      name: 'a default group held only through sync is upgraded, not removed when the IdP stops listing it',
      current: [sync('all-users'), sync('eng')],
      fromIdp: ['eng'],
      expected: { add: [byDefault('all-users')], remove: [] },
    },
    {
      name: 'a default group held as manual is left alone',
      current: [manual('all-users')],
      fromIdp: ['eng'],
      expected: { add: [sync('eng')], remove: [] },
    },
    {
      name: 'sync disabled: the default groups are still added',
      current: [],
      fromIdp: ['eng'],
      sync: { enabled: false },
      expected: { add: [byDefault('all-users')], remove: [] },
    },
    {
      name: 'sync disabled: listed groups are not added and existing sync memberships stay',
      current: [byDefault('all-users'), sync('ops')],
      fromIdp: ['eng'],
      sync: { enabled: false },
      expected: { add: [], remove: [] },
    },
    {
      name: 'a group the IdP lists twice is added once',
      current: [byDefault('all-users')],
      fromIdp: ['eng', 'eng'],
      expected: { add: [sync('eng')], remove: [] },
    },
  ];
  for (const { name, current, fromIdp, sync: syncConfig, groups, expected } of cases) {
    test(name, () => {
      const plan = planGroupSync(current, fromIdp, rules(syncConfig, groups));
      assert.deepEqual(normalised(plan), normalised(expected));
    });
  }

  test('applying a plan and syncing again with the same claim changes nothing (stable across logins)', () => {
    const compiled = rules({ rename: { 'idp-eng': 'eng' } }, { default: ['all-users', 'staff'] });
    const first = planGroupSync([manual('ops')], ['idp-eng', 'x'], compiled);
    const afterFirst = [manual('ops'), ...first.add].filter(({ group }) => !first.remove.includes(group));
    assert.deepEqual(planGroupSync(afterFirst, ['idp-eng', 'x'], compiled), { add: [], remove: [] });
  });
});

describe('compileGroupRules', () => {
  test('compiles the patterns once and copies the settings', () => {
    const compiled = compileGroupRules(
      { enabled: false, include: ['^a'], exclude: ['b$'], rename: { x: 'y' } },
      { default: ['d', 'd', 'e'], builtIn: ['bi'] },
    );
    assert.equal(compiled.syncEnabled, false);
    assert.deepEqual(
      compiled.include.map((pattern) => pattern.source),
      ['^a'],
    );
    assert.deepEqual(
      compiled.exclude.map((pattern) => pattern.source),
      ['b$'],
    );
    assert.equal(compiled.rename.get('x'), 'y');
    assert.deepEqual(compiled.defaults, ['d', 'e']);
    assert.equal(compiled.builtIn.has('bi'), true);
  });

  test('patterns carry no flags: repeated tests give the same answer (no lastIndex state)', () => {
    const compiled = rules({ include: ['^eng$'] });
    assert.equal(compiled.include[0]?.flags, '');
    assert.deepEqual(filterIdpGroups(['eng', 'eng-x'], compiled), ['eng']);
    assert.deepEqual(filterIdpGroups(['eng', 'eng-x'], compiled), ['eng']);
  });
});

describe('groupNamesOf', () => {
  test('sorted and unique, whatever the sources', () => {
    assert.deepEqual(groupNamesOf([sync('b'), manual('a'), byDefault('c'), sync('a')]), ['a', 'b', 'c']);
  });

  test('no memberships, no groups', () => {
    assert.deepEqual(groupNamesOf([]), []);
  });
});

describe('rolesFor', () => {
  const roles = {
    admin: { groups: ['admins'] },
    editor: { groups: ['admins', 'writers'] },
    viewer: { groups: ['all-users'] },
    nobody: { groups: [] },
  };

  test('roles are cumulative: every role one of whose groups the user is in, sorted', () => {
    assert.deepEqual(rolesFor(['writers', 'all-users'], roles), ['editor', 'viewer']);
    assert.deepEqual(rolesFor(['admins'], roles), ['admin', 'editor']);
  });

  test('no matching group, no role (a role with no groups is held by no one)', () => {
    assert.deepEqual(rolesFor(['strangers'], roles), []);
    assert.deepEqual(rolesFor([], roles), []);
  });
});

describe('roleMapReachesAdmin', () => {
  const cases: { name: string; roles: Record<string, { groups: string[] }>; expected: boolean }[] = [
    { name: 'admin mapped to a group', roles: { admin: { groups: ['admins'] } }, expected: true },
    { name: 'admin mapped to no group', roles: { admin: { groups: [] } }, expected: false },
    { name: 'no admin role at all', roles: { editor: { groups: ['admins'] } }, expected: false },
    { name: 'an empty role map', roles: {}, expected: false },
  ];
  for (const { name, roles, expected } of cases) {
    test(name, () => {
      assert.equal(roleMapReachesAdmin(roles), expected);
    });
  }
});
