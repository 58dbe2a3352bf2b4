// The benchmark's upstream: a bare node:http server answering every request with the same 20-byte
// body, in its own process so it never shares an event loop with the load generator or a gateway.
// Prints {"port":N} on stdout once listening on 127.0.0.1.
import { createServer } from 'node:http';

const body = Buffer.from('hello from upstream\n'); // 20 bytes, like the peer harness's nginx upstream
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };

const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
