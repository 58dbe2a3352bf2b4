#!/usr/bin/env node
// What no Docker engine is needed to check in the Dockerfile (dockerfilelint covers the style rules):
//   - every external base image is pinned by a tag (not latest) or a digest;
//   - COPY --from names an earlier stage, and every build-context COPY source is let in by the
//     .dockerignore allow-list (`!path` lines);
//   - the final stage runs as a non-root USER, with ENTRYPOINT ["node", "<file>"] where <file> is
//     what `npm run build` produced (BUILD_DIR is that build's dist/, e.g. tsc --outDir);
//   - the HEALTHCHECK command, run here with node against a local server, exits 0 on 200 and 1 on
//     503 or when nothing listens.
// Usage: node scripts/check-dockerfile.mjs DOCKERFILE BUILD_DIR
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';

const [dockerfile, buildDir] = process.argv.slice(2);
if (dockerfile === undefined || buildDir === undefined) {
  console.error('usage: node scripts/check-dockerfile.mjs DOCKERFILE BUILD_DIR');
  process.exit(2);
}

/** Instructions with continuation lines joined and comments dropped. */
function instructionsOf(text) {
  const out = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += `${line.endsWith('\\') ? line.slice(0, -1) : line} `;
    if (!line.endsWith('\\')) {
      const text = pending.trim();
      const space = text.indexOf(' ');
      out.push({ keyword: text.slice(0, space).toUpperCase(), args: text.slice(space + 1).trim() });
      pending = '';
    }
  }
  return out;
}

const problems = [];
const instructions = instructionsOf(readFileSync(dockerfile, 'utf8'));
const allowed = readFileSync(join(dirname(dockerfile), '.dockerignore'), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('!'))
  .map((line) => line.slice(1).replace(/\/$/, ''));

const stages = [];
let current = null;
for (const { keyword, args } of instructions) {
  if (keyword === 'FROM') {
    const [image, as, name] = args.split(/\s+/);
    const isStage = stages.some((stage) => stage.name === image);
    if (!isStage && !/@sha256:[a-f0-9]{64}$/.test(image) && !/:[^/:]+$/.test(image)) {
      problems.push(`FROM ${image}: pin the base image with a tag or a digest`);
    }
    if (!isStage && /:latest$/.test(image)) problems.push(`FROM ${image}: do not use latest`);
    current = {
      name: as?.toUpperCase() === 'AS' ? name : undefined,
      user: null,
      entrypoint: null,
      healthcheck: null,
    };
    stages.push(current);
  } else if (current === null) {
    if (keyword !== 'ARG') problems.push(`${keyword} before the first FROM`);
  } else if (keyword === 'USER') {
    current.user = args;
  } else if (keyword === 'ENTRYPOINT') {
    current.entrypoint = args;
  } else if (keyword === 'HEALTHCHECK') {
    current.healthcheck = args;
  } else if (keyword === 'COPY') {
    const words = args.split(/\s+/);
    const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((word) => !word.startsWith('--'));
    if (from !== undefined) {
      if (!stages.slice(0, -1).some((stage) => stage.name === from))
        problems.push(`COPY --from=${from}: no such earlier stage`);
    } else {
      for (const source of paths.slice(0, -1)) {
        const path = source.replace(/^\.\//, '').replace(/\/$/, '');
        if (!allowed.includes(path))
          problems.push(`COPY ${source}: not let in by .dockerignore (add !${path})`);
      }
    }
  }
}

const final = stages.at(-1);
if (final === undefined) {
  problems.push('no FROM');
} else {
  const user = final.user?.split(':')[0];
  if (user === undefined || user === '0' || user === 'root')
    problems.push('the final stage must set a non-root USER');
  let entrypoint = null;
  try {
    entrypoint = JSON.parse(final.entrypoint ?? 'null');
  } catch {
    // reported below
  }
  if (!Array.isArray(entrypoint) || entrypoint[0] !== 'node' || typeof entrypoint[1] !== 'string') {
    problems.push('ENTRYPOINT must be the exec form ["node", "dist/..."] (node as PID 1 gets SIGTERM)');
  } else if (!existsSync(join(buildDir, entrypoint[1].replace(/^dist\//, '')))) {
    problems.push(
      `ENTRYPOINT runs ${entrypoint[1]}, which the build did not produce (looked in ${buildDir})`,
    );
  }
}

/** Runs the HEALTHCHECK's exec-form command with PORTCULLIS_HEALTHCHECK_URL set; resolves its exit code. */
function runHealthcheck(command, url) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, command.slice(1), {
      env: { ...process.env, PORTCULLIS_HEALTHCHECK_URL: url },
      stdio: 'inherit',
    });
    child.on('exit', (code) => resolve(code));
  });
}

async function checkHealthcheck(args) {
  const match = /\bCMD\s+(\[.*\])\s*$/.exec(args ?? '');
  const command = match ? JSON.parse(match[1]) : null;
  if (!Array.isArray(command) || command[0] !== 'node') {
    problems.push('HEALTHCHECK must be CMD ["node", ...] in exec form (the slim image has no curl)');
    return;
  }
  let status = 200;
  const server = createServer((_req, res) => res.writeHead(status).end());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/.portcullis/healthz`;
  const healthy = await runHealthcheck(command, url);
  status = 503;
  const unhealthy = await runHealthcheck(command, url);
  await new Promise((resolve) => server.close(resolve));
  const unreachable = await runHealthcheck(command, url);
  if (healthy !== 0) problems.push(`HEALTHCHECK exits ${healthy} on a 200 (expected 0)`);
  if (unhealthy !== 1) problems.push(`HEALTHCHECK exits ${unhealthy} on a 503 (expected 1)`);
  if (unreachable !== 1) problems.push(`HEALTHCHECK exits ${unreachable} when nothing listens (expected 1)`);
}

await checkHealthcheck(final?.healthcheck);
for (const problem of problems) console.error(`  ✗ ${dockerfile}: ${problem}`);
console.log(`check-dockerfile: ${stages.length} stage(s), ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
