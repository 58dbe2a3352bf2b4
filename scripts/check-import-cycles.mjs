#!/usr/bin/env node
// Fails when src/ has an import circle, type-only imports included (ESLint's import-x/no-cycle
// skips `import type`, yet a type circle still ties two folders' designs together).
// Usage: node scripts/check-import-cycles.mjs [root]   (default: src)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? 'src');

function sourceFiles(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
    });
}

/** Relative imports of one file, resolved from the `.js` suffix NodeNext wants to the `.ts` on disk. */
function importsOf(file) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(root);
const known = new Set(files);
const edges = new Map(files.map((file) => [file, importsOf(file).filter((to) => known.has(to))]));

// Tarjan's strongly connected components: every component larger than one file is a circle.
let index = 0;
const indices = new Map();
const lowLinks = new Map();
const stack = [];
const onStack = new Set();
const circles = [];
function visit(file) {
  indices.set(file, index);
  lowLinks.set(file, index);
  index += 1;
  stack.push(file);
  onStack.add(file);
  for (const to of edges.get(file) ?? []) {
    if (!indices.has(to)) {
      visit(to);
      lowLinks.set(file, Math.min(lowLinks.get(file), lowLinks.get(to)));
    } else if (onStack.has(to)) lowLinks.set(file, Math.min(lowLinks.get(file), indices.get(to)));
  }
  if (lowLinks.get(file) !== indices.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== file);
  const selfImport = (edges.get(file) ?? []).includes(file);
  if (component.length > 1 || selfImport) circles.push(component);
}
for (const file of files) if (!indices.has(file)) visit(file);

if (circles.length === 0) {
  console.log(
    `import graph: ${files.length} files under ${relative(process.cwd(), root) || '.'}, no circles`,
  );
} else {
  for (const circle of circles) {
    console.error(`import circle (${circle.length} files):`);
    for (const file of circle.sort()) console.error(`  ${relative(process.cwd(), file)}`);
  }
  process.exit(1);
}
