// Reads a config file: YAML or JSON → ${ENV} substitution → *File secrets → schema → cross-checks.
// Every problem is collected with its key path, so one run shows the user all of them. Parsing does
// no network I/O; probes that reach IdPs or stores live elsewhere.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { deepFreeze } from '../core/deep-freeze.js';
import type { Result } from '../core/result.js';
import { crossCheck } from './cross-checks.js';
import type { ConfigIssue } from './issues.js';
import { PROVIDER_TYPES } from './provider-schemas.js';
import { configSchema, type Config } from './schema.js';

export type { ConfigIssue } from './issues.js';

export interface LoadedConfig {
  config: Config;
  warnings: ConfigIssue[];
  /** The file it came from, for messages. */
  source: string;
}

/** Keys whose value may instead come from a file named by `<key>File` (Kubernetes secrets). */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'secret',
  'clientSecret',
  'privateKey',
  'signingKey',
  'previousSigningKey',
  'passwordHash',
  // SAML providers: the IdP metadata document, the SP's decryption key, and both SP certificates
  // (not secrets, but usually files next to their keys).
  'idpMetadata',
  'decryptionKey',
  'signingCertificate',
  'decryptionCertificate',
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface LoadContext {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  issues: ConfigIssue[];
  /** value-key path → the *File key path the user wrote, so messages name what they wrote. */
  fileKeyPaths: Map<string, string>;
}

export function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Result<LoadedConfig, ConfigIssue[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      error: [
        { path: '(file)', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` },
      ],
    };
  }
  return parseConfigText(text, { env, baseDir: dirname(resolve(file)), source: file });
}

export function parseConfigText(
  text: string,
  options: { env: NodeJS.ProcessEnv; baseDir: string; source: string },
): Result<LoadedConfig, ConfigIssue[]> {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      error: document.errors.map((err) => ({
        path: '(syntax)',
        message: err.message.split('\n')[0] ?? err.message,
      })),
    };
  }
  const raw = document.toJS() as Json;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      error: [{ path: '(root)', message: 'must be a mapping of sections (server, session, ...)' }],
    };
  }

  const context: LoadContext = {
    env: options.env,
    baseDir: options.baseDir,
    issues: [],
    fileKeyPaths: new Map(),
  };
  const expanded = resolveValue(raw, [], context);
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success || context.issues.length > 0) {
    // Report schema problems too, except on keys already reported (an unset ${VAR} or an unreadable file).
    const reported = new Set(context.issues.map((issue) => issue.path));
    const schemaIssues = (parsed.error?.issues ?? [])
      .map((issue) => ({
        path: nameAsWritten(issue.path.map(String).join('.'), context.fileKeyPaths),
        message: describeIssue(issue),
      }))
      .filter(
        (issue) =>
          ![...reported].some(
            (path) =>
              issue.path === path || path.startsWith(`${issue.path}.`) || isFileKeyOf(path, issue.path),
          ),
      );
    return { ok: false, error: [...context.issues, ...schemaIssues] };
  }

  const { errors, warnings } = crossCheck(parsed.data);
  if (errors.length > 0) return { ok: false, error: errors };
  return { ok: true, value: { config: deepFreeze(parsed.data), warnings, source: options.source } };
}

/** Substitutes ${VAR} and reads *File keys, depth first, recording problems by path. */
function resolveValue(value: Json, path: string[], context: LoadContext): Json {
  if (typeof value === 'string') return substituteEnv(value, path, context);
  if (Array.isArray(value))
    return value.map((item, index) => resolveValue(item, [...path, String(index)], context));
  if (value === null || typeof value !== 'object') return value;

  const out: { [key: string]: Json } = {};
  for (const [key, child] of Object.entries(value)) {
    const base = key.endsWith('File') ? key.slice(0, -'File'.length) : null;
    if (base !== null && SECRET_KEYS.has(base)) {
      const filePath = [...path, key].join('.');
      if (Object.hasOwn(value, base)) {
        context.issues.push({
          path: filePath,
          message: `cannot be combined with ${[...path, base].join('.')}: set one`,
        });
        continue;
      }
      const fileName = resolveValue(child, [...path, key], context);
      if (typeof fileName !== 'string' || fileName === '') {
        context.issues.push({ path: filePath, message: 'must be a file path' });
        continue;
      }
      const secret = readSecretFile(resolve(context.baseDir, fileName), filePath, context);
      if (secret !== null) {
        out[base] = secret;
        context.fileKeyPaths.set([...path, base].join('.'), filePath);
      }
      continue;
    }
    out[key] = resolveValue(child, [...path, key], context);
  }
  return out;
}

function readSecretFile(file: string, keyPath: string, context: LoadContext): string | null {
  try {
    // Secret files usually end with a newline that is not part of the secret.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    context.issues.push({ path: keyPath, message: `cannot read ${file}: ${code}` });
    return null;
  }
}

/** ${VAR} or ${VAR:-default}; $${ stays a literal ${. Substitution happens on parsed values, never on the YAML text, so an environment value cannot inject keys. */
function substituteEnv(text: string, path: string[], context: LoadContext): string {
  return text.replace(
    /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (whole, escaped, name: string, fallback?: string) => {
      if (escaped !== undefined) return whole.slice(1);
      const value = context.env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      context.issues.push({
        path: path.join('.') || '(root)',
        message: `refers to environment variable ${name}, which is not set`,
      });
      return '';
    },
  );
}

/** 'a.secretFile' was reported; the schema then misses 'a.secret'. */
function isFileKeyOf(reportedPath: string, schemaPath: string): boolean {
  return reportedPath === `${schemaPath}File`;
}

function nameAsWritten(path: string, fileKeyPaths: ReadonlyMap<string, string>): string {
  for (const [valuePath, filePath] of fileKeyPaths) {
    if (path === valuePath || path.startsWith(`${valuePath}.`))
      return `${filePath}${path.slice(valuePath.length)} (file content)`;
  }
  return path === '' ? '(root)' : path;
}

function describeIssue(issue: {
  code: string;
  message: string;
  keys?: readonly PropertyKey[];
  path: readonly PropertyKey[];
}): string {
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${String(k)}'`).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return 'is required';
  if (issue.code === 'invalid_union' && issue.path[0] === 'providers' && issue.path.at(-1) === 'type')
    return `must be one of: ${PROVIDER_TYPES.join(', ')}`;
  return issue.message;
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n');
}
