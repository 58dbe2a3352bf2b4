// Break-glass passwords: the argon2id parameters `portcullis hash-password` uses, the hash it prints,
// and the verifier a sign-in attempt runs (bounded concurrency, a dummy hash for unknown names).
// Imports argon2 and nothing of the gateway's storage: hash-password loads this file alone, so
// printing a hash never loads a Redis client or a session store.
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Options } from '@node-rs/argon2';

/**
 * What `portcullis hash-password` uses: argon2id, 64 MiB, 3 passes, 1 lane (RFC 9106's second
 * recommended option, above OWASP's floor). About 50-250 ms per verification depending on the CPU.
 * `algorithm: 2` is Algorithm.Argon2id: the package declares the enum `const`, which
 * isolatedModules code may not read, so the value is spelled out (and said explicitly rather than
 * left to the library's default).
 */
export const ARGON2ID_OPTIONS: Readonly<
  Required<Pick<Options, 'algorithm' | 'memoryCost' | 'timeCost' | 'parallelism'>>
> = {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- Algorithm.Argon2id, a const enum isolatedModules cannot read
  algorithm: 2,
  memoryCost: 65_536,
  timeCost: 3,
  parallelism: 1,
};

/** Longer inputs are refused like a wrong password (and hash-password refuses to hash them). */
export const MAX_PASSWORD_LENGTH = 1024;

/** Verifications at once: argon2 runs on libuv's thread pool (4 threads), which DNS lookups and file I/O share. */
const MAX_CONCURRENT_VERIFICATIONS = 2;
/** Attempts waiting for a verification slot beyond this are refused at once (VerifierBusy). */
const MAX_WAITING_VERIFICATIONS = 64;

/** What `portcullis hash-password` prints for a password. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID_OPTIONS);
}

/**
 * The dummy hash takes the parameters of the first configured hash (the cost an attacker would
 * compare against), or hash-password's when no user is configured.
 */
export function dummyHashOptionsFor(hashes: readonly string[]): Options {
  const first = hashes[0];
  if (first === undefined) return { ...ARGON2ID_OPTIONS };
  const parsed = parseOptions(first);
  return {
    algorithm: parsed.algorithm,
    version: parsed.version,
    memoryCost: parsed.memoryCost,
    timeCost: parsed.timeCost,
    parallelism: parsed.parallelism,
    outputLen: parsed.outputLen,
  };
}

/** Too many verifications are already waiting: the attempt is refused before any work. */
export class VerifierBusy extends Error {}

export interface PasswordVerifier {
  /**
   * Whether `password` matches `passwordHash`; with no hash (an unknown name) the dummy hash is
   * checked instead, so the answer (false) costs what a wrong password does. Throws VerifierBusy
   * when too many verifications are waiting, or argon2's error.
   */
  matches(passwordHash: string | undefined, password: string): Promise<boolean>;
}

/** `configuredHashes`: every break-glass user's hash; the first one's parameters make the dummy hash. */
export function createPasswordVerifier(configuredHashes: readonly string[]): PasswordVerifier {
  // Made once, in the background, with the configured hashes' parameters, so an unknown name costs
  // what a known one does. Its password is random and thrown away: nothing ever matches it.
  const dummyHash = hash(randomBytes(32).toString('base64url'), dummyHashOptionsFor(configuredHashes));
  dummyHash.catch(() => {}); // reported at the first attempt that awaits it
  const slots = createSlots(MAX_CONCURRENT_VERIFICATIONS, MAX_WAITING_VERIFICATIONS);
  return {
    matches(passwordHash, password) {
      return slots.run(async () => {
        // The same work whatever the input: one argon2id verification with the same parameters.
        const bounded = password.length <= MAX_PASSWORD_LENGTH ? password : '';
        const ok = await verify(passwordHash ?? (await dummyHash), bounded);
        return ok && passwordHash !== undefined && password.length <= MAX_PASSWORD_LENGTH;
      });
    },
  };
}

/** At most `max` tasks at once, at most `maxWaiting` queued; beyond that, refuse at once. */
function createSlots(max: number, maxWaiting: number): { run<T>(task: () => Promise<T>): Promise<T> } {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    async run(task) {
      if (running >= max) {
        if (waiting.length >= maxWaiting) throw new VerifierBusy('too many break-glass attempts in flight');
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else running++;
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next === undefined) running--;
        else next(); // the slot passes straight to the next waiter
      }
    },
  };
}
