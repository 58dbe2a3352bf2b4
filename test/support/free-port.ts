import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * Asks the kernel for an unused TCP port on 127.0.0.1.
 * The port is released before returning, so a racing process could grab it; callers that spawn a
 * child on it should treat "address in use" as retryable.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}
