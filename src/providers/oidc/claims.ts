// Reading identity fields out of ID token / userinfo claims by a configured path.

/**
 * The value at a dot path ('realm_access.roles'). A key that itself contains dots
 * ('https://example.com/groups', common for namespaced custom claims) is tried whole first.
 */
export function readClaim(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let current: unknown = claims;
  for (const key of path.split('.')) {
    if (
      current === null ||
      typeof current !== 'object' ||
      Array.isArray(current) ||
      !Object.hasOwn(current, key)
    ) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function claimAsString(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return null;
}

/** Groups as the IdP lists them: an array of strings (non-strings dropped) or a single string. */
export function claimAsGroups(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return undefined;
  return [...new Set(value.filter((item): item is string => typeof item === 'string' && item !== ''))];
}

/** The first source (ID token, then userinfo) that has the path. */
export function readFirst(sources: ReadonlyArray<Readonly<Record<string, unknown>>>, path: string): unknown {
  for (const source of sources) {
    const value = readClaim(source, path);
    if (value !== undefined) return value;
  }
  return undefined;
}
