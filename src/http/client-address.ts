// Who the client is and how it reached us, believed only as far as the trusted proxy chain goes.
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

export interface ClientAddressing {
  /** The client's IP: the socket peer unless trusted proxies vouch for an earlier hop. */
  clientIp(this: void, req: IncomingMessage): string;
  /** Sets X-Forwarded-For/-Proto/-Host for the upstream, dropping any the client invented. */
  setForwardedHeaders(this: void, req: IncomingMessage): void;
  /** Whether the socket peer is a trusted proxy (whose X-Forwarded-* we may read). */
  isTrustedPeer(this: void, req: IncomingMessage): boolean;
}

const FORWARDED_HEADER_NAMES = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
];

/** Other spellings of X-Request-Id (X_Request_Id); the id itself is the front door's (http/request-id.ts). */
const REQUEST_ID_SPELLING = 'x-request-id';

/**
 * Headers some frameworks route by (IIS/Symfony X-Original-URL and X-Rewrite-URL, Spring's
 * X-Forwarded-Prefix, Traefik-style X-Forwarded-Uri/-Method/-Path): the app may believe them only
 * from a trusted proxy, so a client's own are removed, in every spelling.
 */
const ROUTING_HINT_HEADER_NAMES = [
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-original-method',
  'x-forwarded-uri',
  'x-forwarded-prefix',
  'x-forwarded-method',
  'x-forwarded-path',
];

export function createClientAddressing(trustProxy: number | readonly string[]): ClientAddressing {
  const trust =
    typeof trustProxy === 'number'
      ? (_address: string, hop: number) => hop < trustProxy
      : proxyAddr.compile([...trustProxy]);

  const peerOf = (req: IncomingMessage) => req.socket.remoteAddress ?? '';
  // A connection's peer never changes: judge it once per socket, not once per keep-alive request.
  const trustedSockets = new WeakMap<object, boolean>();
  const isTrustedPeer = (req: IncomingMessage) => {
    let trusted = trustedSockets.get(req.socket);
    if (trusted === undefined) {
      trusted = trust(peerOf(req), 0);
      trustedSockets.set(req.socket, trusted);
    }
    return trusted;
  };

  return {
    clientIp: (req) => proxyAddr(req, trust),
    isTrustedPeer,
    setForwardedHeaders(req) {
      const headers = req.headers;
      const trusted = isTrustedPeer(req);
      const chain =
        trusted && headers['x-forwarded-for'] !== undefined
          ? proxyAddr.all(req, trust).slice(1).reverse()
          : [];
      const proto = trusted ? firstValue(headers['x-forwarded-proto']) : undefined;
      const host = trusted ? firstValue(headers['x-forwarded-host']) : undefined;
      for (const name of Object.keys(headers)) {
        // Underscore spellings too: some stacks read X_Forwarded_For as X-Forwarded-For.
        const canonical = name.replaceAll('_', '-');
        if (FORWARDED_HEADER_NAMES.includes(canonical)) delete headers[name];
        else if (canonical === REQUEST_ID_SPELLING && name !== REQUEST_ID_SPELLING) delete headers[name];
        else if (!trusted && ROUTING_HINT_HEADER_NAMES.includes(canonical)) delete headers[name];
      }
      headers['x-forwarded-for'] = [...chain, peerOf(req)].join(', ');
      headers['x-forwarded-proto'] =
        proto ?? ('encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
      if (host !== undefined) headers['x-forwarded-host'] = host;
      else if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
    },
  };
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const first = text?.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}
