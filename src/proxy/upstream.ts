// Forwarding to the upstream with http-proxy-3: keep-alive agents, WebSocket upgrades, and a 502
// from the gateway (not a hang) when the app does not answer.
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { UpstreamUnavailable } from '../core/errors.js';
import type { CompiledRoute } from '../policy/route-table.js';

export interface Upstream {
  forward(req: IncomingMessage, res: ServerResponse, route: CompiledRoute): void;
  forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: CompiledRoute): void;
  close(): void;
}

export function createUpstream(options: {
  onError: (err: Error, req: IncomingMessage, res: ServerResponse) => void;
}): Upstream {
  const httpAgent = new HttpAgent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    scheduling: 'lifo',
  });
  const httpsAgent = new HttpsAgent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    scheduling: 'lifo',
  });
  const proxy = createProxyServer({ xfwd: false, ws: true, proxyTimeout: 120_000 });

  proxy.on('error', (err, req, resOrSocket) => {
    if (resOrSocket !== undefined && 'writeHead' in resOrSocket) {
      options.onError(
        new UpstreamUnavailable(`upstream error: ${err.message}`, { cause: err }),
        req,
        resOrSocket,
      );
    } else {
      resOrSocket?.destroy();
    }
  });

  const agentFor = (target: URL) => (target.protocol === 'https:' ? httpsAgent : httpAgent);

  return {
    forward(req, res, route) {
      proxy.web(req, res, {
        target: route.upstream,
        agent: agentFor(route.upstream),
        changeOrigin: !route.preserveHost,
      });
    },
    forwardUpgrade(req, socket, head, route) {
      // Upgrades take a dedicated connection: no pooling agent.
      proxy.ws(req, socket, head, { target: route.upstream, changeOrigin: !route.preserveHost });
    },
    close() {
      proxy.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
