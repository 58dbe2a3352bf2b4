// Listening: one HTTP server for everything; graceful drain on shutdown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../observability/logger.js';
import { composeGateway } from './compose.js';

export interface RunningGateway {
  server: Server;
  /** http://host:port actually bound (useful with port 0). */
  url: string;
  port: number;
  /** Stop accepting, let in-flight requests finish for up to graceMs, then close everything. */
  close(graceMs?: number): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(listen);
  if (match === null) throw new Error(`server.listen: cannot parse '${listen}'`);
  return { host: match[1] === undefined || match[1] === '' ? '0.0.0.0' : match[1], port: Number(match[2]) };
}

export async function startGateway(
  config: Config,
  deps: { log: Logger; clock?: Clock; listen?: { host: string; port: number } },
): Promise<RunningGateway> {
  const gateway = await composeGateway(config, deps);
  const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 65_000 });
  gateway.attach(server);
  const { host, port } = deps.listen ?? parseListen(config.server.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    server,
    url: `http://${shownHost}:${bound}`,
    port: bound,
    async close(graceMs = config.server.shutdownGraceSeconds * 1000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await gateway.close();
    },
  };
}
