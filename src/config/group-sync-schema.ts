// Group names and the per-provider group sync rules.
import { z } from 'zod';

export const groupName = z.string().min(1).max(256);
const regexText = z.string().refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

/** How one provider's groups are taken into the directory (applied before sync). */
export const groupSyncSchema = z
  .strictObject({
    /** false: users get the default groups only and admins assign groups by hand. */
    enabled: z.boolean().default(true),
    /** Keep only groups matching one of these patterns (all when empty). */
    include: z.array(regexText).default([]),
    /** Then drop groups matching any of these. */
    exclude: z.array(regexText).default([]),
    /** IdP name → directory name, applied after include/exclude. */
    rename: z.record(z.string(), groupName).default({}),
  })
  .default({ enabled: true, include: [], exclude: [], rename: {} });
