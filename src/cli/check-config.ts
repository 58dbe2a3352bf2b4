// `portcullis check-config FILE`: validate without serving. Exit 0 when the file is usable.
import { formatIssues, loadConfigFile } from '../config/load.js';
import { registrationFor } from './registration.js';

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
    for (const [what, url] of Object.entries(registrationFor(provider, config))) {
      out.log(`  register at ${provider.id}: ${what} ${url}`);
    }
  }
  return 0;
}
