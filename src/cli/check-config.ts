// `portcullis check-config FILE`: validate without serving. Exit 0 when the file is usable.
import { formatIssues, loadConfigFile } from '../config/load.js';

export function runCheckConfig(
  file: string,
  out: { log: (s: string) => void; error: (s: string) => void },
): number {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    out.error(`${file}: configuration refused:\n${formatIssues(loaded.error)}`);
    return 1;
  }
  if (loaded.value.warnings.length > 0)
    out.error(`${file}: warnings:\n${formatIssues(loaded.value.warnings)}`);
  const { config } = loaded.value;
  out.log(
    `${file}: ok (${config.providers.length} provider(s), ${config.routes.length} route(s), session store ${config.session.store})`,
  );
  for (const provider of config.providers) {
    out.log(
      `  register at ${provider.id}: redirect URI ${new URL(`${config.server.prefix}/callback/${provider.id}`, config.server.publicUrl).href}`,
    );
  }
  out.log(
    `  post-logout redirect URI: ${new URL(`${config.server.prefix}/logged-out`, config.server.publicUrl).href}`,
  );
  return 0;
}
