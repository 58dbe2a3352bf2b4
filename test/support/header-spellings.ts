// Client spellings of the identity header names: every '-'/'_' choice and several cases of each.

/** The default identity header names (config headers section). */
export const CONFIGURED = [
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Name',
  'X-Portcullis-Assertion',
];

/** Every '-'/'_' choice for each separator of a dashed name. */
export function separatorVariants(name: string): string[] {
  const parts = name.split('-');
  let variants = [parts[0] as string];
  for (const part of parts.slice(1))
    variants = variants.flatMap((prefix) => [`${prefix}-${part}`, `${prefix}_${part}`]);
  return variants;
}

/** Lower, upper and alternating case of each separator variant. */
export function spellings(name: string): string[] {
  return separatorVariants(name).flatMap((variant) => [
    variant.toLowerCase(),
    variant.toUpperCase(),
    variant,
    // Header names are ASCII: one UTF-16 unit per character.
    Array.from({ length: variant.length }, (_, i) =>
      i % 2 === 0 ? variant.charAt(i).toUpperCase() : variant.charAt(i).toLowerCase(),
    ).join(''),
  ]);
}
