import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { Generator, arange, cat, memory, scope, setWarningHandler, stack, tensor, type Tensor } from '@tapegrad/tensor';
import { ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, collate, randomSplit } from '../src/index.js';

// randomSplit's lengths from PyTorch 1.13 (written by packages/nn/test/fixtures/gen_i16-optim.py)
const ref = JSON.parse(readFileSync(new URL('./fixtures/i16-optim-data.json', import.meta.url), 'utf8'));

/** Sample i is the int32 scalar i: every batch says which samples it holds. */
const numbered = (n: number) => new TensorDataset(arange(n));
const ids = (ds: Dataset<[Tensor]>) => Array.from({ length: ds.length }, (_, i) => ds.get(i)[0].itemSync());

describe('randomSplit', () => {
  for (const c of ref.randomSplit as { n: number; fractions: number[]; lengths: number[] }[]) {
    it(`fractions ${JSON.stringify(c.fractions)} of ${c.n} samples give PyTorch's lengths ${JSON.stringify(c.lengths)}`, () => {
      expect(randomSplit(numbered(c.n), c.fractions, { seed: 0 }).map((s) => s.length)).toEqual(c.lengths);
    });
  }
  it('splits into disjoint subsets that cover the dataset, reproducibly from a seed or a generator', () => {
    const ds = numbered(20);
    const parts = randomSplit(ds, [5, 15], { seed: 3 });
    expect(parts.map((p) => p.length)).toEqual([5, 15]);
    const all = parts.flatMap((p) => ids(p));
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(all).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(randomSplit(ds, [5, 15], { seed: 3 }).flatMap((p) => ids(p))).toEqual(all);
    expect(randomSplit(ds, [5, 15], { generator: new Generator(3) }).flatMap((p) => ids(p))).toEqual(all);
    expect(randomSplit(ds, [5, 15], { seed: 4 }).flatMap((p) => ids(p))).not.toEqual(all);
  });
  it('warns about an empty split made from fractions, as PyTorch', () => {
    const warnings: string[] = [];
    const old = setWarningHandler((m) => warnings.push(m));
    try {
      expect(randomSplit(numbered(3), [0.2, 0.2, 0.6], { seed: 1 }).map((s) => s.length)).toEqual([1, 1, 1]);
      expect(randomSplit(numbered(2), [0.1, 0.1, 0.8], { seed: 1 }).map((s) => s.length)).toEqual([1, 0, 1]);
    } finally {
      setWarningHandler(old);
    }
    expect(warnings).toEqual(['randomSplit: length of split at index 1 is 0; this might result in an empty dataset']);
  });
  it('says what is wrong with lengths that do not fit', () => {
    const ds = numbered(10);
    expect(() => randomSplit(ds, [3, 8])).toThrow('randomSplit: lengths [3, 8] sum to 11, but the dataset has 10 samples');
    expect(() => randomSplit(ds, [0.5, 0.6])).toThrow('randomSplit: lengths must be non-negative integers (or fractions summing to 1); got 0.5 at index 0');
    expect(() => randomSplit(ds, [1.5, -0.5])).toThrow('randomSplit: fraction at index 0 is not between 0 and 1; got 1.5');
    expect(() => randomSplit(ds, [12, -2])).toThrow('got -2 at index 1');
    expect(() => randomSplit(ds, [5, 5], { seed: 1, generator: new Generator(1) })).toThrow('randomSplit: pass either seed or generator, not both');
  });
});

describe('Subset and ConcatDataset', () => {
  it('Subset maps indices, counts negatives from the end, and batches through the dataset (one indexSelect)', () => {
    const x = arange(0, 30, 1, { dtype: 'float32' }).reshape(10, 3);
    const ds = new TensorDataset(x, arange(10));
    const sub = new Subset(ds, [7, 2, 2, 9]);
    expect(sub.length).toBe(4);
    expect(sub.get(0)[1].itemSync()).toBe(7);
    expect(sub.get(-1)[0].arraySync()).toEqual([27, 28, 29]);
    const [bx, by] = sub.getBatch([3, 0]);
    expect(bx.arraySync()).toEqual([[27, 28, 29], [21, 22, 23]]);
    expect(by.arraySync()).toEqual([9, 7]);
    expect([...new DataLoader(sub, { batchSize: 3 })].map(([, y]) => y.arraySync())).toEqual([[7, 2, 2], [9]]);
    expect(() => new Subset(ds, [1, 10])).toThrow('Subset: index 10 (at position 1) is out of range for a dataset of 10 samples');
    expect(() => sub.get(4)).toThrow('Subset.get: index 4 is out of range for 4 samples');
  });
  it('ConcatDataset chains datasets, across the boundaries and from the end', () => {
    const a = new TensorDataset(arange(3));
    const b = new TensorDataset(arange(10, 12));
    const c = new TensorDataset(arange(20, 24));
    const all = new ConcatDataset([a, b, c]);
    expect(all.length).toBe(9);
    expect(all.cumulativeSizes).toEqual([3, 5, 9]);
    expect(ids(all)).toEqual([0, 1, 2, 10, 11, 20, 21, 22, 23]);
    expect(all.get(-1)[0].itemSync()).toBe(23);
    expect(all.get(-9)[0].itemSync()).toBe(0);
    expect([...new DataLoader(all, { batchSize: 4 })].map(([x]) => x.arraySync())).toEqual([[0, 1, 2, 10], [11, 20, 21, 22], [23]]);
    expect(() => all.get(9)).toThrow('ConcatDataset.get: index 9 is out of range for 9 samples');
    expect(() => new ConcatDataset([])).toThrow('ConcatDataset: expected at least one dataset');
    // a split of a concatenation is a dataset like any other
    const [train, val] = randomSplit(all, [0.5, 0.5], { seed: 0 });
    expect(train!.length + val!.length).toBe(9);
  });
});

// variable-length sequences: a sample is an int32 tensor of its own length and a label
class Sequences extends Dataset<{ tokens: Tensor; label: number }> {
  get length() {
    return 5;
  }
  get(i: number) {
    return { tokens: arange(i + 1), label: i % 2 };
  }
}
/** Pad to the longest sequence with -1, the kind of collate a sequence model needs. */
const padCollate = (samples: { tokens: Tensor; label: number }[]) => {
  const longest = Math.max(...samples.map((s) => s.tokens.shape[0]!));
  const rows = samples.map((s) => cat([s.tokens, tensor(new Int32Array(longest - s.tokens.shape[0]!).fill(-1), { dtype: 'int32' })]));
  return { tokens: stack(rows), labels: tensor(samples.map((s) => s.label)), lengths: tensor(Int32Array.from(samples, (s) => s.tokens.shape[0]!), { dtype: 'int32' }) };
};

describe('DataLoader collate hook', () => {
  it("receives the list of samples and returns the batch (torch's collate_fn)", () => {
    const loader = new DataLoader(new Sequences(), { batchSize: 3, collate: padCollate });
    const batches = [...loader];
    expect(batches[0]!.tokens.arraySync()).toEqual([[0, -1, -1], [0, 1, -1], [0, 1, 2]]);
    expect(batches[0]!.lengths.arraySync()).toEqual([1, 2, 3]);
    expect(batches[1]!.tokens.arraySync()).toEqual([[0, 1, 2, 3, -1], [0, 1, 2, 3, 4]]);
    expect(batches[1]!.labels.arraySync()).toEqual([1, 0]);
    for (const b of batches) b[Symbol.dispose]();
  });
  it('the default is unchanged: the dataset batches (stacking, or one indexSelect for a TensorDataset)', () => {
    const ds = new TensorDataset(arange(5));
    expect([...new DataLoader(ds, { batchSize: 2 })].map(([x]) => x.arraySync())).toEqual([[0, 1], [2, 3], [4]]);
    expect([...new DataLoader(ds, { batchSize: 2, collate })].map(([x]) => x.arraySync())).toEqual([[0, 1], [2, 3], [4]]);
  });
  it("memory: collate's temporaries and the samples are freed, the batch is the caller's", () => {
    const loader = new DataLoader(new Sequences(), { batchSize: 2, shuffle: true, seed: 1, collate: padCollate });
    const before = memory().tensors;
    for (using batch of loader) expect(batch.tokens.isDisposed).toBe(false); // the padded rows and the samples are already gone
    expect(memory().tensors).toBe(before);
    const kept = [...loader];
    expect(memory().tensors).toBe(before + 3 * kept.length); // tokens, labels, lengths per batch, nothing else
    for (const b of kept) b[Symbol.dispose]();
    expect(memory().tensors).toBe(before);
    {
      using s = scope();
      void s;
      for (const b of loader) b.tokens.sum();
    }
    expect(memory().tensors).toBe(before);
  });
  it('a collate that puts sample tensors into the batch as they are keeps them; the rest of the samples go', () => {
    const loader = new DataLoader(new Sequences(), { batchSize: 2, collate: (samples) => samples.map((s) => s.tokens) });
    const before = memory().tensors;
    const [first] = loader;
    expect(first!.map((t) => t.arraySync())).toEqual([[0], [0, 1]]);
    expect(memory().tensors).toBe(before + 2);
    first![Symbol.dispose]();
    expect(memory().tensors).toBe(before);
  });
  it('a collate that throws leaves nothing behind; one that returns no object is an error', () => {
    const before = memory().tensors;
    const failing = new DataLoader(new Sequences(), {
      batchSize: 2,
      collate: (samples): Tensor => {
        tensor([1, 2, 3]); // a temporary, freed with the tidy
        throw new Error(`no batch of ${samples.length}`);
      },
    });
    expect(() => [...failing]).toThrow('no batch of 2');
    expect(memory().tensors).toBe(before);
    const numberBatch = new DataLoader(new Sequences(), { collate: () => 3 });
    expect(() => [...numberBatch]).toThrow('DataLoader: collate must return tensors in an array or a plain object (or one tensor); got number');
    expect(memory().tensors).toBe(before);
    expect(() => new DataLoader(new Sequences(), { collate: 3 as never })).toThrow('DataLoader: collate must be a function of the list of samples');
  });
});
