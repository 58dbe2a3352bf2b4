const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** '30s' → 30000. Returns null for anything that is not a whole number with a unit. */
export function parseDurationMs(text: string): number | null {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
