import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * Directories that are often missing from a non-root PATH but hold Debian service binaries.
 * A `*` segment is expanded (newest version first), e.g. for the versioned PostgreSQL layout.
 */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/lib/postgresql/*/bin'];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Compares version-like directory names so that '16' sorts after '9'. */
function newestFirst(a: string, b: string): number {
  return b.localeCompare(a, 'en', { numeric: true });
}

/** Expands one `*` path segment; directories without a wildcard are returned as they are. */
function expandWildcard(dir: string): string[] {
  const star = dir.indexOf('*');
  if (star === -1) return [dir];
  const parent = dirname(dir.slice(0, star + 1));
  const rest = dir.slice(star + 1);
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return [];
  }
  return entries.sort(newestFirst).flatMap((entry) => expandWildcard(join(parent, entry) + rest));
}

/** Finds an executable on PATH, then in the given extra directories, then in common sbin/versioned dirs. */
export function findBinary(name: string, extraDirs: string[] = []): string | null {
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...pathDirs, ...extraDirs, ...SYSTEM_DIRS].flatMap(expandWildcard)) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isCi(): boolean {
  return process.env['CI'] === 'true';
}

/**
 * The rule for tests that need a system service: if the binary is installed the test starts the
 * service itself; if not, the test is skipped with a message naming the Debian package. Under
 * CI=true a missing binary throws instead, so a misconfigured CI image cannot silently skip
 * the integration and security suites.
 *
 * Usage with node:test:
 *   const redis = requireBinary('redis-server', 'redis-server');
 *   test('...', { skip: 'skip' in redis ? redis.skip : false }, async () => { ... });
 */
export function requireBinary(name: string, debianPackage: string): { path: string } | { skip: string } {
  const path = findBinary(name);
  if (path !== null) return { path };
  const message = `${name} not found on PATH or in ${SYSTEM_DIRS.join(', ')}; install the Debian package '${debianPackage}' (apt-get install ${debianPackage})`;
  if (isCi()) throw new Error(`CI=true requires ${name}: ${message}`);
  return { skip: message };
}
