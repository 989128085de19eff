// Every ```ts block in docs/*.md (and the README) runs here, so the docs cannot rot: each block is written to a
// file of its own, with the package imports pointed at the workspace sources, and imported.
// A block fails the suite when it throws (or rejects). Blocks in other languages (sh, wgsl) are
// not run; every TypeScript block is.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const docsDir = join(root, 'docs');
// a folder per vitest project (the suite's two run this file at the same time), named so that the
// next run clears what an interrupted one left
const outDir = join(root, 'packages/tapegrad/test/.docs-samples', typeof SharedArrayBuffer === 'undefined' ? 'no-sab' : 'node');

/** The ```ts (or ```typescript) blocks of a markdown file, with the line each starts on. */
function extractBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const fence = /^```(ts|typescript)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const m of markdown.matchAll(fence)) {
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[2]! });
  }
  return blocks;
}

// 'tapegrad' and '@tapegrad/<pkg>', and their subpaths ('tapegrad/nn'), resolve to the workspace
// sources, wherever the sample lives: the @tapegrad/source target of the subpath's export.
function pointImports(code: string): string {
  return code.replace(/(from\s+|import\s*\(\s*|import\s+)(['"])(tapegrad|@tapegrad\/[\w-]+)((?:\/[\w-]+)*)\2/g, (_, lead: string, q: string, spec: string, sub: string) => {
    const dir = join(root, 'packages', spec === 'tapegrad' ? 'tapegrad' : spec.slice('@tapegrad/'.length));
    const target = sub ? (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> }).exports[`.${sub}`]!['@tapegrad/source']! : 'src/index.ts';
    return `${lead}${q}${join(dir, target)}${q}`;
  });
}

// the guides in docs/, and the README's usage sample
const docs = [...readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`), 'README.md'];
const samples = docs.map((doc) => ({ doc, blocks: extractBlocks(readFileSync(join(root, doc), 'utf8')) }));
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('extractBlocks', () => {
  it('finds ts blocks and skips other languages', () => {
    const md = 'text\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```typescript\nconst b = 2;\n```\n';
    expect(extractBlocks(md)).toEqual([
      { line: 2, code: 'const a = 1;\n' },
      { line: 8, code: 'const b = 2;\n' },
    ]);
  });
  it('finds the samples of the guides', () => {
    for (const guide of ['getting-started', 'tensors-devices-memory', 'autograd', 'custom-ops', 'adding-a-backend', 'saving-loading']) {
      expect(samples.find((s) => s.doc === `docs/${guide}.md`)?.blocks.length).toBeGreaterThan(0);
    }
  });
});

const sampleFile = (doc: string, line: number) => join(outDir, `${doc.replace(/\.md$/, '').replace('/', '-')}-L${line}.ts`);
for (const { doc, blocks } of samples) {
  for (const { line, code } of blocks) writeFileSync(sampleFile(doc, line), `// from ${doc}:${line}\n${pointImports(code)}`);
}

describe.each(samples.filter((s) => s.blocks.length > 0))('$doc', ({ doc, blocks }) => {
  it.each(blocks)('the sample at line $line runs', async ({ line }) => {
    const file = sampleFile(doc, line);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
  });
});

// Running a sample strips its types unchecked, so a sample can run and still not compile for a
// user (a misspelt option, a wrong type): check them with the compiler too, as strict as the repo.
// (what the compiler sees does not depend on SharedArrayBuffer: once, not in the suite's no-sab project)
it.skipIf(typeof SharedArrayBuffer === 'undefined')('every sample typechecks', () => {
  const base = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.base.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const files = samples.flatMap(({ doc, blocks }) => blocks.map(({ line }) => sampleFile(doc, line)));
  const program = ts.createProgram(files, { ...base.options, noEmit: true, allowImportingTsExtensions: true });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(resolve(d.file.fileName)))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      // line 0 of a sample file is `// from <doc>:<fence line>`, so sample line k is doc line fence + k
      const [doc, fence] = d.file!.text.split('\n', 1)[0]!.replace('// from ', '').split(':');
      return `${doc}:${Number(fence) + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  expect(problems).toEqual([]);
});
