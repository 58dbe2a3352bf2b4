#!/usr/bin/env node
// Entry point: dispatch to one command.
import { Command } from 'commander';
import { runCheckConfig } from './cli/check-config.js';
import { runHashPassword } from './cli/hash-password.js';
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

program
  .command('hash-password')
  .description('read a password on stdin and print its argon2id hash (for breakGlass.users[].passwordHash)')
  // Accepted only to be refused with a clear message: a password in argv leaks to shell history and ps.
  .allowExcessArguments(true)
  .action(async (_options: unknown, command: Command) => {
    process.exitCode = await runHashPassword(command.args, {
      input: process.stdin,
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  });

await program.parseAsync(process.argv);
