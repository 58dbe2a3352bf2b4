// Lint: typescript-eslint strict + type-checked, and the layering of docs/architecture.md as one
// `no-restricted-imports` block per folder of src/. A folder lists the floors it must not reach;
// type-only imports count too (a type is a dependency of the design). Import circles, type-only
// ones included, are refused by scripts/check-import-cycles.mjs (`npm run lint` runs both).
import globals from 'globals';
import tseslint from 'typescript-eslint';

const FOLDERS = [
  'access',
  'app',
  'assertion',
  'cli',
  'config',
  'core',
  'directory',
  'forward-auth',
  'http',
  'login',
  'observability',
  'policy',
  'providers',
  'proxy',
  'routes',
  'session',
];

/** An import of `folder` from anywhere in src/ (`../x/…`, `../../x/…`), or of main.ts. */
function reaching(folders, why) {
  return { regex: `^(\\.\\./)+(${folders.join('|')})(/|\\.js$)`, message: why };
}

/** Above the adapters: stores, the Kysely directory and concrete providers are reached through their ports. */
const PORTS_ONLY = [
  {
    regex: '(^|/)session/stores/(memory|redis)-store\\.js$',
    message: 'use the session store port, not a concrete store',
  },
  {
    regex: '(^|/)directory/(kysely-directory|open-directory)\\.js$',
    message: 'use the Directory port, not the Kysely adapter',
  },
  {
    regex: '(^|/)providers/(oidc|oauth2|okta|entra|saml)/',
    message: 'use the IdentityProvider port, not a concrete provider',
  },
];

/** folder → the folders it may import, filled by floor(); checked for circles below. */
const ALLOWED = new Map();

/** One block: files under src/<folder> may import only their own folder and `allowed`. */
function floor(folder, allowed, why, extraPatterns = []) {
  ALLOWED.set(
    folder,
    allowed.filter((name) => name !== folder),
  );
  const forbidden = FOLDERS.filter((name) => name !== folder && !allowed.includes(name));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            reaching(
              [...forbidden, 'main'],
              `src/${folder} may import only ${[folder, ...allowed].join(', ')}: ${why}`,
            ),
            ...extraPatterns,
          ],
        },
      ],
    },
  };
}

const config = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '.tools/**', 'bench/results/**', 'test-results/**'] },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans read fine in messages; objects and undefined still do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      // `this: void` marks methods that are safe to pass around unbound (listeners, callbacks).
      '@typescript-eslint/no-invalid-void-type': ['error', { allowAsThisParameter: true }],
      // Header maps are plain objects by Node's API (IncomingHttpHeaders): removing a header whose
      // name is computed (a spoofed spelling, a hop-by-hop name) has no Map to move to.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // `return res.end()` from a void handler is the house style for "answer and stop".
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
    },
  },
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  // The floors, bottom up (docs/architecture.md, "Layers").
  floor('core', [], 'core is the ground floor and imports nothing'),
  floor('observability', ['core'], 'logging sits on core alone'),
  floor('config', ['core'], 'config is parsed from plain types; it knows no runtime part'),
  floor('policy', ['core', 'config'], 'policy is pure: routes and rules in, decisions out'),
  floor('directory', ['core', 'config', 'observability'], 'the directory is a storage adapter'),
  floor('assertion', ['core', 'config', 'observability'], 'signing keys and assertions need no request'),
  floor('session', ['core', 'config', 'observability'], 'session storage knows no provider or route'),
  floor(
    'providers',
    ['core', 'config', 'observability'],
    'providers never touch session storage, routes or HTTP; they get what they need passed in',
  ),
  floor(
    'proxy',
    ['core', 'config', 'observability', 'policy'],
    'the proxy forwards what the access judge admitted',
  ),
  floor(
    'access',
    ['core', 'config', 'observability', 'policy', 'session', 'assertion', 'providers'],
    'the access judge decides; it does not answer HTTP',
    PORTS_ONLY,
  ),
  floor(
    'login',
    ['core', 'config', 'observability', 'policy', 'session', 'providers', 'directory'],
    'login flows reach stores and providers through their ports',
    PORTS_ONLY,
  ),
  floor(
    'http',
    ['core', 'config', 'observability', 'policy', 'session', 'proxy', 'access', 'login'],
    'the front door admits and acts; it never opens a store',
    PORTS_ONLY,
  ),
  floor(
    'forward-auth',
    ['core', 'config', 'observability', 'policy', 'access', 'proxy', 'http'],
    'forward-auth adapters only translate the original request',
    PORTS_ONLY,
  ),
  floor(
    'routes',
    [
      'core',
      'config',
      'observability',
      'policy',
      'session',
      'login',
      'http',
      'providers',
      'directory',
      'access',
      'forward-auth',
    ],
    'routes are thin and reach adapters only through ports',
    PORTS_ONLY,
  ),
  floor(
    'app',
    FOLDERS.filter((name) => name !== 'cli'),
    'the composition root names every adapter but no command',
  ),
  floor(
    'cli',
    FOLDERS.filter((name) => name !== 'routes' && name !== 'http'),
    'commands parse flags and call the app',
  ),
);

// The floors themselves must not form a circle (a ↔ b would let two folders depend on each other
// file by file without a file-level circle): refuse to lint with such a table.
function assertFloorsAcyclic() {
  const state = new Map();
  const visit = (folder, path) => {
    if (state.get(folder) === 'done') return;
    if (state.get(folder) === 'open')
      throw new Error(`eslint.config.mjs: the floors form a circle: ${[...path, folder].join(' → ')}`);
    state.set(folder, 'open');
    for (const below of ALLOWED.get(folder) ?? []) visit(below, [...path, folder]);
    state.set(folder, 'done');
  };
  for (const folder of ALLOWED.keys()) visit(folder, []);
  const missing = FOLDERS.filter((folder) => !ALLOWED.has(folder));
  if (missing.length > 0) throw new Error(`eslint.config.mjs: no floor for src/${missing.join(', src/')}`);
}
assertFloorsAcyclic();

export default config;
