// package.json's sideEffects lets bundlers drop a module of @tapegrad/nn whose exports a page does
// not import, op definitions and gradient rules with it. An op run by name (run('x'),
// dispatch('x'), hasKernel('x')) must therefore be defined in the calling module, in a module it
// imports a value from (directly or further down), or in @tapegrad/tensor, which is always whole;
// else a page that uses only the caller would find no op 'x'. Read from the sources: the names
// are string literals, and a definition is a module that calls defineOp and names the op outside
// those calls (`name: 'x'`, or a list of names it defines in a loop).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const byName = /\b(?:run|dispatch|hasKernel)\(\s*'(\w+)'/g;

function defines(source: string): Set<string> {
  if (!/\bdefineOp\b/.test(source)) return new Set();
  const named = new Set([...source.replace(byName, '').matchAll(/'(\w+)'/g)].map((m) => m[1]!));
  return named;
}
// value imports within the package (`import type` and all-type specifier lists are erased)
function valueImports(file: string, source: string): string[] {
  return [...source.matchAll(/^import\s+(?!type\b)([^'";]*?)\s*from\s*'(\.[^']+)'|^import\s+'(\.[^']+)'/gm)]
    .filter((m) => m[3] || !/^\{[^}]*\}$/.test(m[1]!) || m[1]!.slice(1, -1).split(',').some((s) => s.trim() && !/^type\s/.test(s.trim())))
    .map((m) => resolve(dirname(file), (m[2] ?? m[3])!.replace(/\.js$/, '.ts')));
}

const sources = new Map(files(join(pkg, 'src')).map((f) => [f, readFileSync(f, 'utf8')]));
const core = new Set(files(join(pkg, '../tensor/src')).flatMap((f) => [...defines(readFileSync(f, 'utf8'))]));

describe("an op run by name is defined where the bundler keeps it", () => {
  it.each([...sources.keys()].map((f) => relative(pkg, f)))('%s', (file) => {
    const path = join(pkg, file);
    const reach = new Set<string>();
    const visit = (f: string): void => {
      if (reach.has(f) || !sources.has(f)) return;
      reach.add(f);
      for (const g of valueImports(f, sources.get(f)!)) visit(g);
    };
    visit(path);
    const defined = new Set([...core, ...[...reach].flatMap((f) => [...defines(sources.get(f)!)])]);
    const used = [...sources.get(path)!.matchAll(byName)].map((m) => m[1]!);
    expect(used.filter((name) => !defined.has(name))).toEqual([]);
  });
});
