// The attack corpora in test/fixtures/attacks/*.txt, read the one way every test reads them: one
// case a line, '#' lines and blank lines skipped, tokens for unprintable characters expanded, and
// "input<TAB>expected" pairs where a file has two columns.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const TOKENS: Record<string, string> = { TAB: '\t', LF: '\n', CR: '\r', SP: ' ', NUL: '\0', DEL: '\x7f' };

/** Expands the corpus tokens <TAB> <LF> <CR> <SP> <NUL> <DEL> <U+XXXX>. */
export function expandTokens(text: string): string {
  return text.replace(/<(TAB|LF|CR|SP|NUL|DEL|U\+[0-9A-Fa-f]{4,6})>/g, (_, name: string) =>
    name.startsWith('U+') ? String.fromCodePoint(Number.parseInt(name.slice(2), 16)) : (TOKENS[name] ?? ''),
  );
}

/** Non-comment, non-blank lines of test/fixtures/attacks/<name>, verbatim (tokens not yet expanded). */
export function corpusLines(name: string): string[] {
  const text = readFileSync(new URL(`../fixtures/attacks/${name}`, import.meta.url), 'utf8');
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** The "input<TAB>expected" lines of a two-column corpus, both sides expanded; `line` as written. */
export function corpusPairs(name: string): Array<{ input: string; expected: string; line: string }> {
  return corpusLines(name).map((line) => {
    const tab = line.indexOf('\t');
    assert.ok(tab !== -1, `corpus line without TAB: ${line}`);
    return { input: expandTokens(line.slice(0, tab)), expected: expandTokens(line.slice(tab + 1)), line };
  });
}

/** A small deterministic PRNG (mulberry32) for property checks, so a failure is reproducible. */
export function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
