// A real SAML 2.0 IdP for tests: Debian's SimpleSAMLphp 1.19, served by PHP's built-in web server on a
// free port of 127.0.0.1, with this project's private config (test/fixtures/saml-idp: users alice,
// bob and carol, signing key test/fixtures/saml/keys/idp.key). SIMPLESAMLPHP_CONFIG_DIR points there;
// the system-wide /etc/simplesamlphp is never read. Per-run state (PHP sessions, logs, registered SPs)
// lives in a temporary directory removed on close.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { submitFirstForm, type BrowserResponse, type NavigationResult, type TestBrowser } from './browser.js';
import { freePort } from './free-port.js';
import { startProcess } from './processes.js';
import { requireBinary } from './services.js';
import { scaled, waitUntil } from './timing.js';

export const SIMPLESAMLPHP_DIR = process.env['SIMPLESAMLPHP_DIR'] ?? '/usr/share/simplesamlphp';
const DEBIAN_PACKAGES = 'simplesamlphp php-cli php-xml php-curl php-mbstring';
const FIXTURES = fileURLToPath(new URL('../fixtures/saml-idp/', import.meta.url));
export const SAML_KEYS_DIR = fileURLToPath(new URL('../fixtures/saml/keys/', import.meta.url));

/** The users of test/fixtures/saml-idp/config/authsources.php. carol has no groups attribute. */
export const SAML_USERS = {
  alice: {
    password: 'alice-password',
    email: 'alice@example.com',
    name: 'Alice Admin',
    groups: ['gw-admins', 'eng'],
  },
  bob: { password: 'bob-password', email: 'bob@example.com', name: 'Bob Builder', groups: ['eng'] },
  carol: {
    password: 'carol-password',
    email: 'carol@example.com',
    name: 'Carol Contractor',
    groups: undefined,
  },
} as const;
export type SamlUser = keyof typeof SAML_USERS;

/**
 * The skip-or-fail rule of services.ts for the IdP: php and SimpleSAMLphp installed → run; missing →
 * skip naming the Debian packages; missing under CI=true → throw.
 */
export function requireSimpleSamlPhp(): { skip: string } | { php: string } {
  const php = requireBinary('php', DEBIAN_PACKAGES);
  if ('skip' in php) return php;
  if (!existsSync(join(SIMPLESAMLPHP_DIR, 'www/saml2/idp/SSOService.php'))) {
    const message = `SimpleSAMLphp not found in ${SIMPLESAMLPHP_DIR}; install the Debian packages (apt-get install ${DEBIAN_PACKAGES})`;
    if (process.env['CI'] === 'true') throw new Error(`CI=true requires SimpleSAMLphp: ${message}`);
    return { skip: message };
  }
  return { php: php.path };
}

/** IdP-side settings for one SP (SimpleSAMLphp saml20-sp-remote options). */
export interface SpSettings {
  'saml20.sign.response'?: boolean;
  'saml20.sign.assertion'?: boolean;
  'assertion.encryption'?: boolean;
  'validate.authnrequest'?: boolean;
  'validate.logout'?: boolean;
}

export interface SamlIdp {
  /** http://127.0.0.1:PORT/simplesaml */
  baseUrl: string;
  /** The IdP's entity ID, which is also its metadata URL. */
  entityId: string;
  metadataUrl: string;
  ssoUrl: string;
  sloUrl: string;
  /** Trusts the SP described by this metadata XML (as the SP serves it); takes effect at once. */
  registerSp(name: string, metadataXml: string, settings?: SpSettings): void;
  /** Replaces users' attributes until changed again (null removes one); {} restores authsources.php. */
  setAttributeOverrides(overrides: Partial<Record<SamlUser, Record<string, readonly string[] | null>>>): void;
  /** The IdP's log (SimpleSAMLphp's own, then PHP's), for failure messages. */
  logs(): string;
  close(): Promise<void>;
}

const KILL_GRACE_MS = 2_000;

export async function startSamlIdp(php: string): Promise<SamlIdp> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(php);
    } catch (err) {
      lastError = err; // most likely a port taken between freePort() and php -S
    }
  }
  throw lastError;
}

async function startOnce(php: string): Promise<SamlIdp> {
  const port = await freePort();
  const runtime = mkdtempSync(join(tmpdir(), 'portcullis-saml-idp-'));
  for (const dir of ['log', 'data', 'tmp', 'sessions', 'sp', 'docroot']) mkdirSync(join(runtime, dir));
  // The docroot holds one link, so /simplesaml/... maps onto SimpleSAMLphp's www/.
  symlinkSync(join(SIMPLESAMLPHP_DIR, 'www'), join(runtime, 'docroot', 'simplesaml'));
  const baseUrl = `http://127.0.0.1:${port}/simplesaml`;

  // php -S and its workers (PHP_CLI_SERVER_WORKERS) form one process group, ended together.
  const server = startProcess(
    'php -S (SimpleSAMLphp)',
    php,
    [
      '-d',
      'display_errors=0',
      '-d',
      'log_errors=1',
      '-d',
      `error_log=${join(runtime, 'log', 'php-errors.log')}`,
      '-S',
      `127.0.0.1:${port}`,
      '-t',
      join(runtime, 'docroot'),
    ],
    {
      env: {
        SIMPLESAMLPHP_CONFIG_DIR: join(FIXTURES, 'config'),
        PORTCULLIS_IDP_RUNTIME: runtime,
        PORTCULLIS_IDP_PORT: String(port),
        PHP_CLI_SERVER_WORKERS: '4',
      },
      keepOutputChars: 4_000,
    },
  );

  const close = async (): Promise<void> => {
    await server.stop({ graceMs: KILL_GRACE_MS });
    rmSync(runtime, { recursive: true, force: true });
  };

  const metadataUrl = `${baseUrl}/saml2/idp/metadata.php`;
  try {
    await waitUntil(
      async () => {
        try {
          const response = await fetch(metadataUrl, { signal: AbortSignal.timeout(scaled(5_000)) });
          return response.status === 200 && (await response.text()).includes('IDPSSODescriptor');
        } catch {
          return false; // not up yet
        }
      },
      {
        what: `SimpleSAMLphp to serve its metadata at ${metadataUrl}`,
        intervalMs: 100,
        failFast: () =>
          server.hasExited() ? `php -S exited during startup:\n${server.output()}` : undefined,
        detail: server.output,
      },
    );
  } catch (error) {
    await close();
    throw error;
  }

  return {
    baseUrl,
    entityId: metadataUrl,
    metadataUrl,
    ssoUrl: `${baseUrl}/saml2/idp/SSOService.php`,
    sloUrl: `${baseUrl}/saml2/idp/SingleLogoutService.php`,
    registerSp(name, metadataXml, settings = {}) {
      if (!/^[a-z0-9-]+$/.test(name))
        throw new Error(`SP name ${name} must be lowercase letters, digits and -`);
      writeFileSync(join(runtime, 'sp', `${name}.json`), JSON.stringify(settings));
      writeFileSync(join(runtime, 'sp', `${name}.xml`), metadataXml);
    },
    setAttributeOverrides(overrides) {
      writeFileSync(join(runtime, 'attributes.json'), JSON.stringify(overrides));
    },
    logs() {
      const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
      return `${read(join(runtime, 'log', 'simplesamlphp.log')).slice(-3_000)}\n${read(join(runtime, 'log', 'php-errors.log')).slice(-2_000)}`;
    },
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// Driving the IdP's pages

/** Fills in SimpleSAMLphp's username/password form; follows redirects to the page that POSTs the response. */
export async function signInAtSamlIdp(
  browser: TestBrowser,
  loginPage: BrowserResponse,
  user: SamlUser,
): Promise<NavigationResult> {
  if (!/name="username"/.test(loginPage.body) || !/name="AuthState"/.test(loginPage.body)) {
    throw new Error(
      `expected the SimpleSAMLphp login form, got status ${loginPage.status} at ${loginPage.url}:\n${loginPage.body.slice(0, 600)}`,
    );
  }
  return submitFirstForm(browser, loginPage, { username: user, password: SAML_USERS[user].password });
}

export interface SamlPostForm {
  action: string;
  SAMLResponse: string;
  RelayState: string | undefined;
}

/** Reads SimpleSAMLphp's HTTP-POST binding page: the form the browser would post to the ACS. */
export function readSamlPostForm(page: BrowserResponse): SamlPostForm {
  const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
  const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(page.body)?.[1];
  if (action === undefined || samlResponse === undefined) {
    throw new Error(
      `expected SimpleSAMLphp's POST form, got status ${page.status} at ${page.url}:\n${page.body.slice(0, 800)}`,
    );
  }
  const relayState = /name="RelayState" value="([^"]*)"/.exec(page.body)?.[1];
  const decode = (text: string) =>
    text
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&#0?39;/g, "'");
  return {
    action: decode(action.trim()),
    SAMLResponse: decode(samlResponse),
    RelayState: relayState === undefined ? undefined : decode(relayState),
  };
}
