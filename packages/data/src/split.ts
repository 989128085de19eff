import { Generator, IndexError, ValueError, defaultGenerator, fmt, warn } from '@tapegrad/tensor';
import { Dataset, type Collated } from './dataset.js';

// issue 16 (data): Subset, ConcatDataset and randomSplit, after torch.utils.data.

/** Negative counts from the end; out of range is an IndexError naming `what`. */
function checkIndex(what: string, index: number, length: number): number {
  if (!Number.isInteger(index) || index < -length || index >= length) throw new IndexError(`${what}: index ${index} is out of range for ${length} samples`);
  return index < 0 ? index + length : index;
}

/**
 * The samples of `dataset` at `indices`, in that order (torch.utils.data.Subset). Batches go
 * through the dataset's own getBatch with the mapped indices, so a Subset of a TensorDataset
 * still gathers a batch with one indexSelect per tensor.
 */
export class Subset<T> extends Dataset<T> {
  /** The dataset the samples come from. */
  readonly dataset: Dataset<T>;
  /** Sample i of the subset is sample indices[i] of the dataset. */
  readonly indices: Int32Array;
  /**
   * @param dataset - The dataset to take samples from.
   * @param indices - Indices into it (integers in [0, dataset.length), else an IndexError); may repeat.
   */
  constructor(dataset: Dataset<T>, indices: ArrayLike<number>) {
    super();
    this.dataset = dataset;
    this.indices = Int32Array.from(indices, (v, k) => {
      if (!Number.isInteger(v) || v < 0 || v >= dataset.length) {
        throw new IndexError(`Subset: index ${v} (at position ${k}) is out of range for a dataset of ${dataset.length} samples`);
      }
      return v;
    });
  }
  /** The number of indices. */
  get length(): number {
    return this.indices.length;
  }
  /** Sample `indices[index]` of the dataset (negative counts from the end). */
  get(index: number): T {
    return this.dataset.get(this.indices[checkIndex('Subset.get', index, this.length)]!);
  }
  /** The dataset's batch at the mapped indices. */
  override getBatch(indices: ArrayLike<number>): Collated<T> {
    return this.dataset.getBatch(Int32Array.from(indices, (i) => this.indices[checkIndex('Subset.getBatch', i, this.length)]!));
  }
}

/** Datasets one after another as one dataset (torch.utils.data.ConcatDataset). */
export class ConcatDataset<T> extends Dataset<T> {
  /** The datasets, in order. */
  readonly datasets: readonly Dataset<T>[];
  /** cumulativeSizes[k]: the samples in datasets 0..k together. */
  readonly cumulativeSizes: readonly number[];
  /** @param datasets - One or more datasets (none is a ValueError). */
  constructor(datasets: Iterable<Dataset<T>>) {
    super();
    this.datasets = [...datasets];
    if (!this.datasets.length) throw new ValueError('ConcatDataset: expected at least one dataset');
    let total = 0;
    this.cumulativeSizes = this.datasets.map((d) => (total += d.length));
  }
  /** The total number of samples. */
  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1]!;
  }
  /** The sample at `index` of the concatenation (negative counts from the end). */
  get(index: number): T {
    const i = checkIndex('ConcatDataset.get', index, this.length);
    let k = 0;
    while (i >= this.cumulativeSizes[k]!) k++;
    return this.datasets[k]!.get(k > 0 ? i - this.cumulativeSizes[k - 1]! : i);
  }
}

/** Options of {@link randomSplit}. */
export interface RandomSplitOptions {
  /** The generator the permutation draws from (default: one seeded with `seed`, else the global one that manualSeed() seeds). */
  generator?: Generator;
  /** Seed a generator of the split's own, so the split is reproducible. */
  seed?: number;
}

/**
 * Split a dataset into non-overlapping random subsets of the given lengths
 * (torch.utils.data.random_split). `lengths` are sample counts that sum to the dataset's length,
 * or fractions that sum to 1: each subset then gets floor(fraction · length) samples and the
 * remainder goes one by one to the subsets in turn, from the first, as PyTorch does (a subset
 * that ends up empty is warned about). The order of the samples is one permutation of the
 * generator; the same seed gives the same split.
 *
 * @example
 * ```ts
 * const [train, val] = randomSplit(dataset, [0.9, 0.1], { seed: 0 });
 * ```
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], options: RandomSplitOptions = {}): Subset<T>[] {
  if (options.seed !== undefined && options.generator) throw new ValueError('randomSplit: pass either seed or generator, not both');
  const n = dataset.length;
  const total = lengths.reduce((a, b) => a + b, 0);
  let counts = lengths.slice();
  // fractions: math.isclose(sum, 1) and sum <= 1, as PyTorch decides
  if (Math.abs(total - 1) <= 1e-9 && total <= 1) {
    counts = lengths.map((f, i) => {
      if (!(f >= 0 && f <= 1)) throw new ValueError(`randomSplit: fraction at index ${i} is not between 0 and 1; got ${f}`);
      return Math.floor(n * f);
    });
    const remainder = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) counts[i % counts.length]!++;
    counts.forEach((c, i) => c === 0 && warn(`randomSplit: length of split at index ${i} is 0; this might result in an empty dataset`));
  } else {
    const bad = lengths.findIndex((l) => !Number.isInteger(l) || l < 0);
    if (bad >= 0) throw new ValueError(`randomSplit: lengths must be non-negative integers (or fractions summing to 1); got ${lengths[bad]} at index ${bad}`);
  }
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== n) throw new ValueError(`randomSplit: lengths ${fmt(lengths)} sum to ${sum}, but the dataset has ${n} samples`);
  const generator = options.generator ?? (options.seed !== undefined ? new Generator(options.seed) : defaultGenerator);
  const order = generator.permutation(n);
  let start = 0;
  return counts.map((c) => new Subset(dataset, order.subarray(start, (start += c))));
}
