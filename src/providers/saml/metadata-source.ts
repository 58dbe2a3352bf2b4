// Where a SAML provider's IdP metadata comes from. Inline or file metadata is read once, at start, and
// a bad one refuses the start (like any config error). URL metadata is fetched in the background:
// the gateway starts at once and serves public routes and break-glass while the IdP is away; a
// sign-in before the first good copy gets a 503. It is fetched again every refresh interval, and a
// failed or invalid fetch keeps the last good copy.
import { ProviderUnavailable } from '../../core/errors.js';
import type { Logger } from '../../observability/logger.js';
import { readIdpMetadata, type IdpDescriptor } from './idp-metadata.js';

export interface IdpMetadataSource {
  /** The IdP as last read; throws ProviderUnavailable when no good copy was ever loaded. */
  current(): IdpDescriptor;
  close(): void;
}

/** Metadata documents larger than this are refused (an IdP's is a few kB; an aggregate can be large). */
const MAX_METADATA_BYTES = 5 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;
/** Without a good copy, a sign-in attempt triggers a fetch at most this often. */
const RETRY_AFTER_FAILURE_MS = 5_000;

export function staticMetadataSource(xml: string, expectedEntityId: string | undefined): IdpMetadataSource {
  const descriptor = readIdpMetadata(xml, expectedEntityId);
  return { current: () => descriptor, close: () => {} };
}

export function fetchedMetadataSource(options: {
  providerId: string;
  url: string;
  refreshMs: number;
  expectedEntityId: string | undefined;
  now: () => number;
  log: Logger;
  fetch?: typeof fetch;
}): IdpMetadataSource {
  const doFetch = options.fetch ?? fetch;
  const fields = { providerId: options.providerId, url: options.url };
  let good: IdpDescriptor | null = null;
  let goodXml: string | null = null;
  let inFlight: Promise<void> | null = null;
  let lastAttemptAt = -Infinity;

  async function load(): Promise<void> {
    lastAttemptAt = options.now();
    try {
      const response = await doFetch(options.url, {
        redirect: 'error',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' },
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > MAX_METADATA_BYTES) throw new Error(`metadata of ${declared} bytes`);
      const xml = await response.text();
      if (Buffer.byteLength(xml) > MAX_METADATA_BYTES) throw new Error('metadata too large');
      const descriptor = readIdpMetadata(xml, options.expectedEntityId);
      if (descriptor.validUntil !== null && descriptor.validUntil <= options.now()) {
        throw new Error('metadata validUntil has passed');
      }
      if (xml !== goodXml)
        options.log.info({ ...fields, entityId: descriptor.entityId }, 'SAML IdP metadata loaded');
      good = descriptor;
      goodXml = xml;
    } catch (err) {
      options.log.warn(
        { ...fields, err: (err as Error).message, keptPreviousCopy: good !== null },
        'SAML IdP metadata fetch failed',
      );
    }
  }

  function refresh(): void {
    inFlight ??= load().finally(() => {
      inFlight = null;
    });
  }

  refresh();
  const timer = setInterval(refresh, options.refreshMs);
  timer.unref();

  return {
    current() {
      if (good !== null) return good;
      if (options.now() - lastAttemptAt >= RETRY_AFTER_FAILURE_MS) refresh();
      throw new ProviderUnavailable(`no IdP metadata for ${options.providerId} yet (${options.url})`);
    },
    close() {
      clearInterval(timer);
    },
  };
}
