// `portcullis [serve] --config FILE`: load, validate (refuse to start on any error), serve, drain on SIGTERM.
import { startGateway } from '../app/server.js';
import { formatIssues, loadConfigFile } from '../config/load.js';
import { createLogger } from '../observability/logger.js';

export async function runServe(file: string): Promise<number> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(
      `portcullis: ${file}: configuration refused, not starting:\n${formatIssues(loaded.error)}\n`,
    );
    return 1;
  }
  const { config, warnings } = loaded.value;
  const log = createLogger({ level: config.log.level });
  for (const warning of warnings) log.warn({ key: warning.path }, warning.message);

  const gateway = await startGateway(config, { log });
  log.info(
    { listen: config.server.listen, publicUrl: config.server.publicUrl, url: gateway.url },
    'portcullis listening',
  );
  for (const provider of config.providers) {
    log.info(
      {
        provider: provider.id,
        redirectUri: new URL(`${config.server.prefix}/callback/${provider.id}`, config.server.publicUrl).href,
      },
      'register this redirect URI at the identity provider',
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'draining in-flight requests');
      gateway.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopped');
  log.flush();
  return 0;
}
