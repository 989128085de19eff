#!/usr/bin/env node
// Each published package's `prepack` (run by `pnpm pack` and `pnpm publish`, in the package's
// folder): build dist/ from scratch, then check that what ships is whole. Any failure stops the
// pack with a message saying what is wrong, so no tarball without its build can be made.
//
// In the workspace, `exports` (and `imports`) carry the `@tapegrad/source` condition, which points
// tests and examples at the TypeScript sources; the tarball must not (it ships dist/ only), so each
// package repeats them without it under `publishConfig`, which pnpm puts in the packed
// package.json. npm ignores publishConfig's fields, hence the refusal below.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const fail = (msg) => {
  console.error(`prepack ${pkg.name}: ${msg}`);
  process.exit(1);
};
const agent = process.env.npm_config_user_agent ?? '';
if (!agent.startsWith('pnpm/')) {
  fail(`pack and publish with pnpm (got '${agent.split(' ')[0] || 'an unknown client'}'): only pnpm applies publishConfig.exports, which drops the workspace's @tapegrad/source condition`);
}

const withoutSource = (x) =>
  x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).filter(([k]) => k !== '@tapegrad/source').map(([k, v]) => [k, withoutSource(v)])) : x;
for (const field of ['exports', 'imports']) {
  if (!pkg[field]) continue;
  const want = withoutSource(pkg[field]);
  if (!isDeepStrictEqual(pkg.publishConfig?.[field], want)) {
    fail(`publishConfig.${field} must be ${field} without the @tapegrad/source condition:\n${JSON.stringify(want, null, 2)}`);
  }
}
for (const file of ['LICENSE', 'README.md']) if (!existsSync(file)) fail(`${file} is missing: every published package ships one`);

// A clean build: files of a removed source must not linger in dist/ and ship.
rmSync('dist', { recursive: true, force: true });
try {
  execFileSync(process.execPath, [process.env.npm_execpath, 'run', 'build'], { stdio: 'inherit' });
} catch {
  fail('the build failed (see above); nothing was packed');
}

const targets = new Set([pkg.main, pkg.types]);
const walk = (x) => (typeof x === 'string' ? targets.add(x) : x && Object.values(x).forEach(walk));
walk(pkg.publishConfig.exports);
walk(pkg.publishConfig.imports);
const missing = [...targets].filter((t) => t && !existsSync(t));
if (missing.length) fail(`the build did not produce ${missing.join(', ')}, which package.json points at`);
