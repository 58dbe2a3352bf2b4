// Records every module a process loads, for tests that prove a command does NOT load something.
// Use: node --import tsx --import ./test/support/module-trace.mjs ENTRY, with PORTCULLIS_MODULE_TRACE
// naming the file to write. Two sources, one URL per line:
//   - an ESM resolve hook (module.register; it runs after tsx's own hooks, so it sees the final
//     file: URL of every `import`, static or dynamic, .ts or package), appended as it resolves;
//   - at exit, every CommonJS module in the require cache (packages imported from ESM land there
//     too, and so does whatever they require() themselves, which no ESM hook sees on Node 20).
// Plain JavaScript, so it needs no loader of its own.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const traceFile = process.env.PORTCULLIS_MODULE_TRACE;
if (traceFile === undefined || traceFile === '') throw new Error('module-trace: set PORTCULLIS_MODULE_TRACE');
writeFileSync(traceFile, '');

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(file, resolved.url + '\\n');
  return resolved;
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url, { data: { file: traceFile } });

const requireCache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const cjs = Object.keys(requireCache).map((path) => pathToFileURL(path).href);
  appendFileSync(traceFile, cjs.map((url) => `${url}\n`).join(''));
});
