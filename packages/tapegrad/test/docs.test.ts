// Every ```ts block in docs/*.md runs here, so the docs cannot rot: each block is written to a
// file of its own, with the package imports pointed at the workspace sources, and imported.
// A block fails the suite when it throws (or rejects). Blocks in other languages (sh, wgsl) are
// not run; every TypeScript block is.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const docsDir = join(root, 'docs');
const outDir = join(root, 'packages/tapegrad/test/.docs-samples');

/** The ```ts (or ```typescript) blocks of a markdown file, with the line each starts on. */
export function extractBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const fence = /^```(ts|typescript)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const m of markdown.matchAll(fence)) {
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[2]! });
  }
  return blocks;
}

// 'tapegrad' and '@tapegrad/<pkg>' resolve to the workspace sources, wherever the sample lives.
function pointImports(code: string): string {
  return code.replace(/(from\s+|import\s*\(\s*|import\s+)(['"])(tapegrad|@tapegrad\/[\w-]+)\2/g, (_, lead: string, q: string, spec: string) => {
    const dir = spec === 'tapegrad' ? 'tapegrad' : spec.slice('@tapegrad/'.length);
    return `${lead}${q}${join(root, 'packages', dir, 'src/index.ts')}${q}`;
  });
}

const docs = readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort();
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
});

describe.each(docs)('docs/%s', (doc) => {
  const blocks = extractBlocks(readFileSync(join(docsDir, doc), 'utf8'));
  it('has code samples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  it.each(blocks)('the sample at line $line runs', async ({ line, code }) => {
    const file = join(outDir, `${doc.replace(/\.md$/, '')}-L${line}.ts`);
    writeFileSync(file, `// from docs/${doc}:${line}\n${pointImports(code)}`);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
  });
});
