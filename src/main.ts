#!/usr/bin/env node
// Entry point: dispatch to one command. Each command's module is loaded only when it runs, so
// `hash-password` loads argon2 alone, not the gateway's Redis clients and session stores.
import { Command } from 'commander';

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
    const file = configFrom(options.config);
    const { runServe } = await import('./cli/serve.js');
    process.exitCode = await runServe(file);
  });

program
  .command('check-config')
  .description('validate a config file without serving')
  .argument('[file]', 'config file (or PORTCULLIS_CONFIG)')
  .action(async (file: string | undefined) => {
    const path = configFrom(file);
    const { runCheckConfig } = await import('./cli/check-config.js');
    process.exitCode = runCheckConfig(path, { log: console.log, error: console.error });
  });

program
  .command('hash-password')
  .description('read a password on stdin and print its argon2id hash (for breakGlass.users[].passwordHash)')
  // Accepted only to be refused with a clear message: a password in argv leaks to shell history and ps.
  .allowExcessArguments(true)
  .action(async (_options: unknown, command: Command) => {
    const { runHashPassword } = await import('./cli/hash-password.js');
    process.exitCode = await runHashPassword(command.args, {
      input: process.stdin,
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  });

await program.parseAsync(process.argv);
