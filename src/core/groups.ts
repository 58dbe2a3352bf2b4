// Group sync rules: which of an IdP's groups a user ends up in, and what a login changes. Pure: the
// directory applies the plan (login/complete-login.ts), so every rule here is testable without a database.

/** One provider's group sync settings as configured (providers.N.groupSync satisfies this shape). */
export interface GroupSyncSettings {
  readonly enabled: boolean;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** IdP name → directory name. */
  readonly rename: Readonly<Record<string, string>>;
}

/** The gateway-wide group settings (the config's `groups:` section satisfies this shape). */
export interface GroupSettings {
  /** Given to every external user at login. */
  readonly default: readonly string[];
  /** Groups the IdP can never grant or remove. */
  readonly builtIn: readonly string[];
}

/**
 * sync: granted by the IdP and removed when the IdP stops listing it; manual: by an admin or SCIM, never
 * touched by sync; default: the configured default groups. The directory port stores these.
 */
export type MembershipSource = 'sync' | 'manual' | 'default';

export interface Membership {
  readonly group: string;
  readonly source: MembershipSource;
}

export interface GroupChange {
  add: Membership[];
  remove: string[];
}

/** One provider's group sync settings with the patterns compiled once at start. */
export interface CompiledGroupRules {
  readonly syncEnabled: boolean;
  readonly include: readonly RegExp[];
  readonly exclude: readonly RegExp[];
  /** IdP name → directory name. */
  readonly rename: ReadonlyMap<string, string>;
  readonly defaults: readonly string[];
  readonly builtIn: ReadonlySet<string>;
}

export function compileGroupRules(sync: GroupSyncSettings, groups: GroupSettings): CompiledGroupRules {
  // No flags and no added anchors: the pattern means what the user wrote, exactly as the config schema
  // validated it. `admins` also matches `not-admins`; write `^admins$` to match one name.
  const compile = (pattern: string): RegExp => new RegExp(pattern);
  return Object.freeze({
    syncEnabled: sync.enabled,
    include: Object.freeze(sync.include.map(compile)),
    exclude: Object.freeze(sync.exclude.map(compile)),
    rename: new Map(Object.entries(sync.rename)),
    defaults: Object.freeze([...new Set(groups.default)]),
    builtIn: new Set(groups.builtIn),
  });
}

/**
 * The directory names an IdP's group list grants: include (everything when the list is empty), then
 * exclude, then rename, then built-in names are dropped and duplicates removed, first occurrence kept.
 * Patterns see the IdP's names, so include/exclude are written in the IdP's vocabulary.
 */
export function filterIdpGroups(groups: readonly string[], rules: CompiledGroupRules): string[] {
  const kept = new Set<string>();
  for (const idpName of groups) {
    if (rules.include.length > 0 && !rules.include.some((pattern) => pattern.test(idpName))) continue;
    if (rules.exclude.some((pattern) => pattern.test(idpName))) continue;
    const name = rules.rename.get(idpName) ?? idpName;
    // An empty name cannot be shown, matched by a route or removed by an admin.
    if (name === '') continue;
    // Built-in groups are local (e.g. break-glass admins): an IdP that can create a group with the same
    // name must not be able to grant it.
    if (rules.builtIn.has(name)) continue;
    kept.add(name);
  }
  return [...kept];
}

/** Not held, or held only through sync: a default membership must be (re)written. */
const WEAKER_THAN_DEFAULT: ReadonlySet<MembershipSource | undefined> = new Set([undefined, 'sync']);

/**
 * What one login changes in a user's memberships, given what the IdP listed this time.
 * `fromIdp` is the raw claim: undefined when the IdP sent none.
 */
export function planGroupSync(
  current: readonly Membership[],
  fromIdp: readonly string[] | undefined,
  rules: CompiledGroupRules,
): GroupChange {
  const held = new Map(current.map((membership) => [membership.group, membership.source]));
  const add: Membership[] = [];
  const remove: string[] = [];

  // Defaults apply to everyone, with sync on or off. A default group held only through sync is
  // re-added as 'default' (the directory keeps the stronger source) so that a later sync cannot remove it.
  for (const group of rules.defaults) {
    if (WEAKER_THAN_DEFAULT.has(held.get(group))) add.push({ group, source: 'default' });
  }

  // Sync off: an admin assigns groups by hand, including whatever sync granted before it was turned off.
  if (!rules.syncEnabled) return { add, remove };
  // An IdP that omits groups (or sends an empty claim) has not said "no groups": some leave the claim out
  // of some tokens, or when a user is in too many groups. Removing memberships then would lock admins out.
  if (fromIdp === undefined || fromIdp.length === 0) return { add, remove };

  const listed = new Set(filterIdpGroups(fromIdp, rules));
  const defaults = new Set(rules.defaults);
  for (const group of listed) {
    // A group already held (manual, default or sync) keeps its source: sync never downgrades.
    if (!held.has(group) && !defaults.has(group)) add.push({ group, source: 'sync' });
  }
  for (const { group, source } of current) {
    if (source !== 'sync' || listed.has(group)) continue;
    // Built-in groups are outside sync in both directions; defaults were just re-added above.
    if (rules.builtIn.has(group) || defaults.has(group)) continue;
    remove.push(group);
  }
  return { add, remove };
}

/** The group names a session carries: sorted so headers and assertions are stable across logins. */
export function groupNamesOf(memberships: readonly Membership[]): string[] {
  return [...new Set(memberships.map((membership) => membership.group))].sort();
}
