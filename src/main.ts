#!/usr/bin/env node
// Entry point: dispatch to one command.
import { Command } from 'commander';
import { runCheckConfig } from './cli/check-config.js';
import { runServe } from './cli/serve.js';

const program = new Command()
  .name('portcullis')
  .description('Identity-aware reverse proxy: sign-in in front of apps that have none')
  .showHelpAfterError();

const configFrom = (option: string | undefined): string => {
  const file = option ?? process.env.PORTCULLIS_CONFIG;
  if (file === undefined || file === '') {
    process.stderr.write('portcullis: no config file: pass --config FILE or set PORTCULLIS_CONFIG\n');
    process.exit(2);
  }
  return file;
};

program
  .command('serve', { isDefault: true })
  .description('run the gateway')
  .option('-c, --config <file>', 'YAML or JSON config file (or PORTCULLIS_CONFIG)')
  .action(async (options: { config?: string }) => {
    process.exitCode = await runServe(configFrom(options.config));
  });

program
  .command('check-config')
  .description('validate a config file without serving')
  .argument('[file]', 'config file (or PORTCULLIS_CONFIG)')
  .action((file: string | undefined) => {
    process.exitCode = runCheckConfig(configFrom(file), { log: console.log, error: console.error });
  });

await program.parseAsync(process.argv);
