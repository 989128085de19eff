// docs/pytorch-api.md maps PyTorch's names to tapegrad's and lists what tapegrad lacks. A map
// goes stale two ways: a name it promises disappears or was misspelt, or a feature it calls
// missing lands (or was there all along under its natural name). Both are checked here, and so is
// the other direction: every export of 'tapegrad' (and of its nn, nn.functional, init, optim and
// data namespaces) appears on the page, so a new export cannot go unmapped.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as cpu from '@tapegrad/backend-cpu';
import * as tg from '../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const page = readFileSync(join(root, 'docs/pytorch-api.md'), 'utf8');

interface Row { line: number; cells: string[] }
interface Table { header: string[]; rows: Row[] }

/** The markdown tables of `md`: header cells and body rows (cells split on unescaped pipes). */
function tables(md: string): Table[] {
  const out: Table[] = [];
  const lines = md.split('\n');
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim());
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|[\s:|-]+\|$/.test(lines[i + 1]?.trim() ?? '')) continue;
    const table: Table = { header: cells(lines[i]!), rows: [] };
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) table.rows.push({ line: i + 1, cells: cells(lines[i]!) });
    out.push(table);
  }
  return out;
}

/** The code spans of a cell. */
const spans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
/** The dotted name a code span starts with (`new data.DataLoader(ds)` -> data.DataLoader), or null for a literal. */
function leadingPath(span: string): string | null {
  const m = /^(?:await\s+|new\s+)*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)/.exec(span);
  return m ? m[1]! : null;
}

// What the tables' receivers stand for (the page's introduction names them).
const receivers: Record<string, unknown> = (() => {
  const t = tg.ones([2, 2]);
  const model = new tg.nn.Linear(2, 2);
  const opt = new tg.optim.SGD(model.parameters(), { lr: 0.1 });
  return {
    t,
    model,
    opt,
    sched: new tg.optim.StepLR(opt, { stepSize: 1 }),
    loader: new tg.data.DataLoader(new tg.data.TensorDataset(t), { batchSize: 1 }),
    gen: new tg.Generator(0),
    compiled: tg.compile((x: tg.Tensor) => x.add(1)),
    F: tg.nn.functional,
    cpu,
  };
})();

/** Whether a dotted tapegrad name exists: a receiver or an export of 'tapegrad', then each property in turn. */
function resolves(path: string): boolean {
  const [head, ...rest] = path.split('.');
  let v: unknown = head! in receivers ? receivers[head!] : head! in tg ? (tg as Record<string, unknown>)[head!] : undefined;
  if (v === undefined) return false;
  for (const [i, key] of rest.entries()) {
    if ((typeof v !== 'object' && typeof v !== 'function') || v === null || !(key in v)) return false;
    if (i < rest.length - 1) v = (v as Record<string, unknown>)[key]; // the last may be a getter: ask only whether it is there
  }
  return true;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/**
 * Where a PyTorch name would live in tapegrad, spelt as the page spells tapegrad names:
 * torch.x is a function or a Tensor method, torch.nn.X is in nn, Tensor.x a method, and so on.
 * A name whose root is not one of these could be anywhere, so every namespace is searched.
 */
function naturalSpellings(torchName: string): string[] {
  const parts = torchName.split('.').map(camel);
  const last = parts.at(-1)!;
  const names = [last, ...(last.endsWith('_') ? [last.slice(0, -1)] : [])];
  const at = (...owners: string[]) => owners.flatMap((o) => names.map((n) => (o ? `${o}.${n}` : n)));
  const path = parts.join('.');
  if (/^(torch\.)?nn\.functional\.|^F\./.test(path)) return at('F', '');
  if (/^(torch\.)?nn\.init\.|^init\./.test(path)) return at('init');
  if (/^(torch\.)?nn\.utils\./.test(path)) return at('', 'nn', 'optim');
  if (/^(torch\.)?nn\./.test(path)) return at('nn');
  if (/^(torch\.)?optim\.|^lrScheduler\./.test(path)) return at('optim');
  if (/^(torch\.)?utils\.data\./.test(path)) return at('data');
  if (/^(torch\.)?Tensor\./.test(path)) return at('t', '');
  if (/^(nn\.)?Module\./.test(path)) return at('model');
  if (/^Generator\./.test(path)) return at('gen');
  if (parts[0] === 'torch' && parts.length === 2) return at('', 't');
  // torch.linalg.inv, torch.cuda.amp.autocast: tapegrad would flatten them to the top level
  if (parts[0] === 'torch') return [...at(''), parts[1]!];
  return at('', 't', 'model', 'opt', 'nn', 'F', 'init', 'optim', 'data');
}

const all = tables(page);
const maps = all.filter((t) => t.header[0] === 'PyTorch' && t.header[1] === 'tapegrad');
const missing = all.filter((t) => t.header[0] === 'PyTorch' && t.header[1] === 'would be');

describe('docs/pytorch-api.md', () => {
  it('has the map and the list of what is missing', () => {
    expect(maps.length).toBeGreaterThan(8);
    expect(missing.length).toBeGreaterThan(2);
    expect(maps.flatMap((t) => t.rows).length).toBeGreaterThan(80);
    expect(missing.flatMap((t) => t.rows).length).toBeGreaterThan(30);
    for (const { header, rows } of all) for (const { line, cells } of rows) expect(cells.length, `line ${line}: cells`).toBe(header.length);
  });

  it('every tapegrad name the map gives exists', () => {
    const wrong: string[] = [];
    for (const { rows } of maps) {
      for (const { line, cells } of rows) {
        expect(cells[1], `line ${line}: a row with no tapegrad name`).toMatch(/`/);
        for (const span of spans(cells[1]!)) {
          const path = leadingPath(span);
          if (path && !resolves(path)) wrong.push(`line ${line}: \`${span}\` (${path})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('nothing listed as missing exists, under the spelling given or its natural one', () => {
    const found: string[] = [];
    for (const { rows } of missing) {
      for (const { line, cells } of rows) {
        expect(cells[2], `line ${line}: says why`).toMatch(/^\*\*(not built yet|out of scope|different design)\*\*/);
        for (const span of spans(cells[1]!)) {
          const path = leadingPath(span);
          if (path && resolves(path)) found.push(`line ${line}: \`${span}\` exists`);
        }
        for (const span of spans(cells[0]!)) {
          const path = leadingPath(span);
          if (!path) continue;
          for (const name of naturalSpellings(path)) if (resolves(name)) found.push(`line ${line}: ${path} exists as ${name}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it('naturalSpellings finds what exists (so the check above can fail)', () => {
    const exists = (torchName: string) => naturalSpellings(torchName).some(resolves);
    expect(exists('torch.cumsum')).toBe(true);
    expect(exists('torch.nn.functional.log_softmax')).toBe(true);
    expect(exists('nn.init.kaiming_uniform_')).toBe(true);
    expect(exists('lr_scheduler.StepLR')).toBe(true);
    expect(exists('torch.utils.data.random_split')).toBe(true);
    expect(exists('Tensor.masked_fill_')).toBe(true);
    expect(exists('Module.named_parameters')).toBe(true);
    expect(exists('nn.utils.clip_grad_norm_')).toBe(true);
    expect(exists('torch.autograd.gradcheck')).toBe(true);
    expect(exists('torch.rsqrt')).toBe(false);
  });
});

// Exports that are not on the page, each with why. Every one is an implementation detail that
// other tapegrad packages import from @tapegrad/tensor, which the umbrella re-exports whole.
const UNMAPPED: Record<string, string> = {
  installAutograd: '@tapegrad/autograd hooks itself into the tensor core when it loads',
  autogradHooks: 'the hooks installAutograd installed, read by the core',
  addPoolReporter: "a backend's buffer pool reports its reserve to memory() through it",
  countBytes: "memory()'s bookkeeping, called by Storage",
  countTensor: "memory()'s bookkeeping, called by Tensor",
  track: 'hands a new tensor to the innermost scope; nn calls it for tensors it makes outside ops',
  operands: "turns an op's number operands into tensors; the backends and autograd use it",
  withOperands: 'operands, disposing the temporaries after the call',
  binaryInPlace: 'the implementation of add_, sub_, mul_ and div_',
  copyInto: 'the implementation of copy_, fill_ and zero_',
  maskedFillInPlace: 'the implementation of maskedFill_',
  fillValue: "maskedFill's argument checks",
  fromDraw: 'fromArray for random draws, so a compiled replay draws again',
  reducedShape: "a reduction's output shape, for autograd's gradient rules",
  remapSource: "pad/roll/flip's index arithmetic, shared by the CPU and WebGPU kernels",
  classTargetError: "the error nllLoss and crossEntropy give for a bad class index, worded once for every backend",
  probabilityInputError: 'the error binaryCrossEntropy gives for an input outside [0, 1], worded once for every backend',
  multinomialError: "multinomial's errors, worded once for every backend",
  linearCrossEntropyWorkspace: "the scratch size of linearCrossEntropy's kernels, shared by nn and the CPU backend",
  readsInto: 'the output dtype of an op that reads a half input into float32 (softmax, sum, the class losses in nn)',
};

describe('every export is on the page', () => {
  // a name is on the page where a code span starts with it (`data.randomSplit(ds, lengths)` names
  // data and randomSplit; its arguments are not exports)
  const mentioned = new Set([...page.matchAll(/`([^`]+)`/g)].flatMap((m) => leadingPath(m[1]!)?.split('.') ?? []));
  const namespaces: [string, Record<string, unknown>][] = [
    ['tapegrad', tg],
    ['nn', tg.nn],
    ['nn.functional', tg.nn.functional],
    ['init', tg.init],
    ['optim', tg.optim],
    ['data', tg.data],
  ];
  it.each(namespaces)('%s', (_, ns) => {
    const absent = Object.keys(ns).filter((k) => !mentioned.has(k) && !(k in UNMAPPED));
    expect(absent).toEqual([]);
  });
  it('the exceptions are still exports, and not on the page', () => {
    for (const k of Object.keys(UNMAPPED)) {
      expect(k in tg, `${k} is no longer exported: drop it from UNMAPPED`).toBe(true);
      expect(mentioned.has(k), `${k} is on the page now: drop it from UNMAPPED`).toBe(false);
    }
  });
});
