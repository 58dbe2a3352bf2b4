// Loaded before the unit tests (npm run test:unit): test/unit is pure code, so opening a socket
// (listen or connect) or starting a process there throws, naming what to do instead. The one
// exception is esbuild's service process, which tsx starts to compile the tests themselves.
// Plain JavaScript: worker threads (xmllint-wasm's) load it too, without tsx.
import childProcess from 'node:child_process';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

const MOVE = 'test/unit is for pure code: a test that needs this belongs in test/integration';

function refuse(what) {
  throw new Error(`unit-guard: ${what} refused. ${MOVE}`);
}

net.Server.prototype.listen = function listen() {
  refuse('a listening socket');
};
net.Socket.prototype.connect = function connect() {
  refuse('a network connection');
};

const isEsbuild = (command) => typeof command === 'string' && /[\\/]esbuild(\.exe)?$/.test(command);

const realSpawn = childProcess.spawn;
childProcess.spawn = function spawn(...args) {
  if (!isEsbuild(args[0])) refuse(`starting ${args[0]}`);
  return realSpawn.apply(this, args);
};
for (const name of ['spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  childProcess[name] = function refused() {
    refuse(`child_process.${name}`);
  };
}
syncBuiltinESMExports();
