// Listening: one HTTP server for everything; graceful drain on shutdown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../observability/logger.js';
import { notReadyBody } from '../observability/readiness.js';
import type { Duplex } from 'node:stream';
import { composeGateway, type Gateway } from './compose.js';

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
  // Upgraded (WebSocket) sockets leave the HTTP server's bookkeeping: track them to drain them.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (_req, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  gateway.attach(server);
  const { host, port } = deps.listen ?? parseListen(config.server.listen);
  let health: Server | null = null;
  try {
    await listen(server, host, port);
    if (config.server.healthListen !== undefined)
      health = await startHealthListener(config.server.healthListen, gateway);
  } catch (err) {
    // A port in use (or not ours to bind) ends the start cleanly: nothing left open behind it.
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await gateway.close();
    throw err;
  }
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
      const drained = waitUntilEmpty(upgraded);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }, graceMs);
      await Promise.all([closed, drained]);
      clearTimeout(deadline);
      await new Promise<void>((resolve) => (health === null ? resolve() : health.close(() => resolve())));
      await gateway.close();
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Probes for the kubelet on their own port: no auth, no routes, nothing but health and readiness. */
async function startHealthListener(address: string, gateway: Gateway): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (path.endsWith('/healthz')) return reply(200, { status: 'ok' });
    if (path.endsWith('/readyz')) {
      gateway.ready().then(
        () => reply(200, { status: 'ready' }),
        (err: unknown) => reply(503, notReadyBody(err)),
      );
      return;
    }
    reply(404, { error: 'not found' });
  });
  const { host, port } = parseListen(address);
  await listen(server, host, port);
  return server;
}

function waitUntilEmpty(sockets: Set<Duplex>): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (sockets.size === 0) resolve();
      else setTimeout(check, 50);
    };
    check();
  });
}
