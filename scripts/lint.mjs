#!/usr/bin/env node
// Package-boundary lint, run by each package's `lint` task (turbo runs them in parallel).
// DESIGN.md's dependency arrows point one way: a source file may import only node builtins,
// relative paths, its package.json's `#imports` and the packages it declares; backends never
// import autograd or nn; node builtins only in src/node*.ts (Node-only code, reached through the
// `node` export condition: everything else also runs in browsers); and no test is left focused
// with `.only`.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { builtinModules } from 'node:module';

const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const declared = new Set(Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies }));
// tests may also use the workspace root's tools (vitest)
const root = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')); // any depth (bench/ too)
const devDeclared = new Set([...declared, ...Object.keys(pkg.devDependencies ?? {}), ...Object.keys(root.devDependencies ?? {})]);
// a backend's sources never import autograd or nn; its tests may (gradient parity runs backward on it)
const forbidden = pkg.name.startsWith('@tapegrad/backend-') ? ['@tapegrad/autograd', '@tapegrad/nn'] : [];
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function* files(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|mts|js|mjs)$/.test(e) && !e.endsWith('.d.ts')) yield p;
  }
}

const problems = [];
for (const [dir, allowed] of [['src', declared], ['test', devDeclared], ['bench', devDeclared]]) {
  for (const file of files(join(pkgDir, dir))) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(pkgDir, file);
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.') || (spec.startsWith('#') && spec in (pkg.imports ?? {}))) continue;
      if (builtins.has(spec)) {
        if (dir === 'src' && !pkg.private && !/^node[\w-]*\.ts$/.test(basename(file))) problems.push(`${rel}: imports '${spec}'; Node-only code belongs in src/node.ts behind the node export condition (docs/ARCHITECTURE.md, "Packages")`);
        continue;
      }
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name === pkg.name) continue;
      if (dir === 'src' && forbidden.includes(name)) problems.push(`${rel}: a backend must not import ${name} (DESIGN.md: backends depend on the tensor core only)`);
      else if (!allowed.has(name)) problems.push(`${rel}: imports '${spec}', which ${pkg.name}'s package.json does not declare`);
    }
    if (dir === 'test' && /\b(?:it|test|describe)\.only\(/.test(text)) problems.push(`${rel}: a focused test (.only) would silence the rest of the suite`);
  }
}
if (problems.length) {
  console.error(`lint ${pkg.name}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`lint ${pkg.name}: ok`);
