import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { Generator, arange, memory, scope, tensor, type Tensor } from '@tapegrad/tensor';
import { DataLoader, Dataset, TensorDataset, collate } from '../src/index.js';

// Row i of x is [10i, 10i+1, 10i+2]; y[i] = i: every batch says which samples it holds.
function rows(n: number): [Tensor, Tensor] {
  return [arange(0, 10 * n, 1, { dtype: 'float32' }).reshape(n, 10).narrow(1, 0, 3).contiguous(), arange(n)];
}

describe('TensorDataset', () => {
  it('has the shared first dim as length and gives rows as samples', () => {
    const [x, y] = rows(5);
    const ds = new TensorDataset(x, y);
    expect(ds.length).toBe(5);
    const [xi, yi] = ds.get(3);
    expect(xi.arraySync()).toEqual([30, 31, 32]);
    expect(yi.shape).toEqual([]);
    expect(yi.itemSync()).toBe(3);
    expect(ds.get(-1)[1].itemSync()).toBe(4);
  });
  it('gathers a batch with one indexSelect per tensor', () => {
    const [x, y] = rows(6);
    const [bx, by] = new TensorDataset(x, y).getBatch([4, 0, 5]);
    expect(bx.arraySync()).toEqual([[40, 41, 42], [0, 1, 2], [50, 51, 52]]);
    expect(by.arraySync()).toEqual([4, 0, 5]);
  });
  it('rejects tensors of different lengths, 0-d tensors and bad indices', () => {
    expect(() => new TensorDataset(arange(4), arange(5))).toThrow('TensorDataset: all tensors must share their first dim; tensor 0 has shape [4] and tensor 1 has [5]');
    expect(() => new TensorDataset(tensor(1))).toThrow('tensor 0 has shape [] and tensor 0 has []');
    expect(() => new TensorDataset()).toThrow('expected at least one tensor');
    expect(() => new TensorDataset(arange(3)).get(3)).toThrow('TensorDataset.get: index 3 is out of range for 3 samples');
    expect(() => new TensorDataset(arange(3)).getBatch([0, 7])).toThrow(/indexSelect: index 7 is out of range/);
  });
});

describe('DataLoader', () => {
  it('yields batches in order, the last one short unless dropLast', () => {
    const [x, y] = rows(10);
    const ds = new TensorDataset(x, y);
    const loader = new DataLoader(ds, { batchSize: 4 });
    expect(loader.length).toBe(3);
    const seen = [...loader].map(([bx, by]) => {
      expect(bx.shape).toEqual([by.shape[0], 3]);
      expect(bx.dtype).toBe('float32');
      return by.arraySync();
    });
    expect(seen).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);

    const dropping = new DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropping.length).toBe(2);
    expect([...dropping].map(([, by]) => by.arraySync())).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    // an exact multiple loses nothing
    expect(new DataLoader(ds, { batchSize: 5, dropLast: true }).length).toBe(2);
    expect(new DataLoader(ds).length).toBe(10);
    expect([...new DataLoader(ds, { batchSize: 64, dropLast: true })]).toEqual([]);
  });

  it('keeps rows and labels together when shuffling, and visits every index once per epoch', () => {
    const [x, y] = rows(23);
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 5, shuffle: true, seed: 7 });
    for (let epoch = 0; epoch < 3; epoch++) {
      const labels: number[] = [];
      const sizes: number[] = [];
      for (const [bx, by] of loader) {
        const ys = by.arraySync() as number[];
        expect(bx.arraySync()).toEqual(ys.map((i) => [10 * i, 10 * i + 1, 10 * i + 2]));
        labels.push(...ys);
        sizes.push(ys.length);
      }
      expect(sizes).toEqual([5, 5, 5, 5, 3]);
      expect([...labels].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    }
  });

  it('shuffles reproducibly from a seed, with a new order each epoch', () => {
    const [x, y] = rows(50);
    const ds = new TensorDataset(x, y);
    const epochs = (loader: DataLoader<[Tensor, Tensor]>) =>
      [0, 1].map(() => [...loader].flatMap(([, by]) => by.arraySync() as number[]));
    const a = epochs(new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 123 }));
    const b = epochs(new DataLoader(ds, { batchSize: 8, shuffle: true, generator: new Generator(123) }));
    const c = epochs(new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 124 }));
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(a[1]);
    expect(a[0]).not.toEqual(c[0]);
    const identity = Array.from({ length: 50 }, (_, i) => i);
    expect(a[0]).not.toEqual(identity);
    expect([...a[0]!].sort((p, q) => p - q)).toEqual(identity);
  });

  it('spreads a shuffle evenly: over many epochs each sample lands in each position about equally', () => {
    const n = 4;
    const loader = new DataLoader(new TensorDataset(arange(n)), { shuffle: true, seed: 1 });
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 2000;
    for (let e = 0; e < epochs; e++) loader.order().forEach((sample, pos) => counts[sample]![pos]++);
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan(75);
  });

  it('hands out batches the caller owns: `using` and scopes free them', () => {
    const [x, y] = rows(12);
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 5, shuffle: true, seed: 3 });
    const before = memory().tensors;
    for (using batch of loader) {
      const [bx] = batch;
      expect(bx.isDisposed).toBe(false);
    }
    expect(memory().tensors).toBe(before);
    {
      using s = scope();
      void s;
      for (const [bx] of loader) bx.sum();
    }
    expect(memory().tensors).toBe(before);
    const kept = [...loader];
    expect(memory().tensors).toBe(before + 2 * kept.length);
    for (const batch of kept) batch[Symbol.dispose]();
    expect(memory().tensors).toBe(before);
  });

  it('batches a map-style dataset by stacking samples of tensors, numbers and objects', () => {
    class Squares extends Dataset<{ x: Tensor; label: number; pair: [Tensor, boolean] }> {
      get length() {
        return 5;
      }
      get(i: number) {
        return { x: tensor([i, i * i]), label: i, pair: [tensor(i * 2, { dtype: 'int32' }), i % 2 === 0] as [Tensor, boolean] };
      }
    }
    const before = memory().tensors;
    const batches = [...new DataLoader(new Squares(), { batchSize: 3 })];
    expect(batches.length).toBe(2);
    const { x, label, pair } = batches[0]!;
    expect(x.arraySync()).toEqual([[0, 0], [1, 1], [2, 4]]);
    expect(label.dtype).toBe('float32');
    expect(label.arraySync()).toEqual([0, 1, 2]);
    expect(pair[0].dtype).toBe('int32');
    expect(pair[0].arraySync()).toEqual([0, 2, 4]);
    expect(pair[1].arraySync()).toEqual([true, false, true]);
    expect(batches[1]!.x.shape).toEqual([2, 2]);
    // the per-sample tensors were disposed after stacking; only the batches remain
    expect(memory().tensors).toBe(before + 2 * 4);
    for (const b of batches) b[Symbol.dispose]();
    expect(memory().tensors).toBe(before);
  });

  it('says what is wrong with bad options and mismatched samples', () => {
    const ds = new TensorDataset(arange(3));
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow('DataLoader: batchSize must be a positive integer; got 0');
    expect(() => new DataLoader(ds, { batchSize: 2.5 })).toThrow('got 2.5');
    expect(() => new DataLoader(ds, { seed: 1, generator: new Generator(1) })).toThrow('pass either seed or generator, not both');
    expect(() => collate([[tensor([1])], [tensor([1]), tensor([2])]])).toThrow('collate: samples differ in structure');
    expect(() => collate([tensor([1, 2]), tensor([1])])).toThrow(/stack: tensor 1 has shape \[1\] but tensor 0 has \[2\]/);
  });
});
