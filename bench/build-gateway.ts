// The benchmarks run the gateway compiled, as deployed (`node dist/src/main.js`): under tsx the
// loader's own worker thread and the transformed sources add ~50 MB of RSS and some start-up work,
// which would distort the memory rows and the comparison with the peers.
import { spawn } from 'node:child_process';

/** Runs `npm run build` in `root`; rejects when it fails. */
export function buildGateway(root: string, log: (line: string) => void): Promise<void> {
  log('npm run build (the gateway runs compiled, from dist/)');
  const child = spawn('npm', ['run', 'build', '--silent'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((done, fail) =>
    child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`npm run build failed (${code})`)))),
  );
}

/** The node arguments that start the compiled gateway with a config file. */
export function gatewayEntryArgs(configFile: string): string[] {
  return ['dist/src/main.js', '--config', configFile];
}
