// A private nginx for tests: its own prefix directory and config, on a free loopback port,
// started in the foreground (daemon off) so close() stops exactly this process and its worker.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess } from './processes.js';
import { findBinary } from './services.js';
import { waitUntil } from './timing.js';

export interface TestNginx {
  port: number;
  close(): Promise<void>;
}

/** `serverBlock` is the body of one `server { }` (without `listen`); `{dir}` in it is replaced by the prefix. */
export async function startNginx(port: number, serverBlock: string): Promise<TestNginx> {
  const binary = findBinary('nginx');
  if (binary === null) throw new Error('nginx not found (Debian package nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-nginx-'));
  // Workers run as nobody when started as root: they must be able to write the temp paths.
  chmodSync(dir, 0o777);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { mode: 0o777 });
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    ${serverBlock.replaceAll('{dir}', dir)}
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const nginx = startProcess('nginx', binary, ['-p', dir, '-c', join(dir, 'nginx.conf')]);
  try {
    await waitUntil(() => listening(port), {
      what: `nginx to listen on 127.0.0.1:${port}`,
      failFast: () => (nginx.hasExited() ? `nginx exited:\n${nginx.output()}` : undefined),
      detail: nginx.output,
    });
  } catch (error) {
    await nginx.stop({ signal: 'SIGKILL' });
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    async close() {
      // SIGQUIT: nginx's graceful stop; the group (master and worker) is killed after the grace period.
      await nginx.stop({ signal: 'SIGQUIT', graceMs: 3_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
