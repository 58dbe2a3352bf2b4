// `portcullis hash-password`: reads a password on stdin and prints its argon2id hash for
// breakGlass.users[].passwordHash (or a passwordHashFile). Never from argv: arguments end up in
// shell history and in every other user's `ps`.
import { hashPassword, MAX_PASSWORD_LENGTH } from '../login/break-glass/password-hashing.js';

export interface HashPasswordIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function runHashPassword(args: readonly string[], io: HashPasswordIo): Promise<number> {
  if (args.length > 0) {
    io.err(
      'portcullis hash-password: refusing a password given as an argument (it would stay in shell history and show in the process list); pipe it on stdin instead:\n  printf %s "$PASSWORD" | portcullis hash-password\n',
    );
    return 2;
  }
  if (io.input.isTTY === true) io.err('Password (shown as you type; end with Enter): ');
  const text = await readPassword(io.input, io.input.isTTY === true);
  // `echo secret | ...` appends one newline, which is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '') {
    io.err('portcullis hash-password: refusing an empty password\n');
    return 1;
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    io.err(
      `portcullis hash-password: refusing a password longer than ${MAX_PASSWORD_LENGTH} characters (the sign-in form accepts no longer)\n`,
    );
    return 1;
  }
  io.out(`${await hashPassword(password)}\n`);
  if (io.input.isTTY !== true) return 0;
  io.err('Put it in breakGlass.users[].passwordHash, or in a file named by passwordHashFile.\n');
  return 0;
}

/** The whole of stdin, or one line from a terminal. */
function readPassword(input: NodeJS.ReadableStream, oneLine: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const finish = () => {
      input.off('data', onData);
      input.off('end', finish);
      input.off('error', reject);
      input.pause();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer | string) => {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (oneLine && chunk.includes('\n')) finish();
    };
    input.on('data', onData);
    input.once('end', finish);
    input.once('error', reject);
  });
}
