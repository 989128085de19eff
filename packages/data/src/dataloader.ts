import { Generator, ValueError, defaultGenerator, notTraceable, tidy } from '@tapegrad/tensor';
import { disposeAll, type Collated, type Sample } from './dataset.js';

/** Options of {@link DataLoader}, as torch's DataLoader arguments of the same names. */
export interface DataLoaderOptions<T = Sample, B = Collated<T>> {
  /** Samples per batch. Default 1. */
  batchSize?: number;
  /** Draw a new random order each epoch. Default false. */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** The generator shuffling draws from (default: a generator seeded with `seed`, else the global one that manualSeed() seeds). */
  generator?: Generator;
  /** Seed a generator of the loader's own, so its epochs' orders are reproducible. */
  seed?: number;
  /**
   * Make a batch from the list of samples (torch's collate_fn). By default the dataset's
   * getBatch makes it ({@link collate}: tensors stacked, numbers and booleans made tensors).
   * collate runs inside a `tidy`: tensors it makes and does not return are freed. The samples
   * are the loader's: after collate returns, the loader disposes every sample tensor that is not
   * part of the batch, so a collate may put sample tensors into the batch as they are.
   */
  collate?: (samples: T[]) => B;
}

/**
 * What a DataLoader needs of a dataset (every Dataset has it). T is inferred from `get` alone:
 * inferring it through getBatch's Collated<T> sends TypeScript into deep instantiation.
 */
export interface BatchSource<T> {
  /** The number of samples. */
  readonly length: number;
  /** The sample at `index`. */
  get(index: number): T;
  /** The samples at `indices`, collated into one batch the caller owns. */
  getBatch(indices: ArrayLike<number>): unknown;
}

/** A batch: the collated sample structure, with `[Symbol.dispose]` disposing all its tensors. */
export type Batch<T, B = Collated<T>> = B & Disposable;

/**
 * Iterates a dataset in batches (torch.utils.data.DataLoader, single process). Each epoch is one
 * `for...of`; with `shuffle` every epoch draws a new permutation from the generator, so a
 * seeded loader gives the same sequence of epochs every run.
 *
 * The batches are the caller's: dispose each when done, most easily with
 * `for (using batch of loader) { const [x, y] = batch; ... }`, or call `batch[Symbol.dispose]()`
 * (or dispose its tensors) by hand. A batch is also freed by a `tidy`/`scope` that was open when
 * the loader produced it.
 */
export class DataLoader<T = Sample, B = Collated<T>> implements Iterable<Batch<T, B>> {
  /** The dataset batches are drawn from. */
  readonly dataset: BatchSource<T>;
  /** Samples per batch (the last may hold fewer unless dropLast). */
  readonly batchSize: number;
  /** Whether each epoch draws a new random order. */
  readonly shuffle: boolean;
  /** Whether a last batch smaller than batchSize is dropped. */
  readonly dropLast: boolean;
  /** The generator shuffling draws from. */
  readonly generator: Generator;
  /** The collate function given in the options, if any. */
  readonly collate: ((samples: T[]) => B) | undefined;

  /** A batchSize that is not a positive integer, or both seed and generator, throw a ValueError. */
  constructor(dataset: BatchSource<T>, options: DataLoaderOptions<T, B> = {}) {
    const { batchSize = 1, shuffle = false, dropLast = false, seed } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueError(`DataLoader: batchSize must be a positive integer; got ${batchSize}`);
    if (seed !== undefined && options.generator) throw new ValueError('DataLoader: pass either seed or generator, not both');
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.generator = options.generator ?? (seed !== undefined ? new Generator(seed) : defaultGenerator);
    if (options.collate !== undefined && typeof options.collate !== 'function') throw new ValueError('DataLoader: collate must be a function of the list of samples');
    this.collate = options.collate;
  }

  /** The number of batches an epoch yields (len(loader)). */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample indices of one epoch, in the order they are batched (draws from the generator when shuffling). */
  order(): Int32Array {
    const n = this.dataset.length;
    if (this.shuffle) return this.generator.permutation(n);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }

  /** One epoch: {@link length} batches in {@link order}'s order, each the caller's to dispose. */
  *[Symbol.iterator](): Iterator<Batch<T, B>> {
    const order = this.order();
    const batches = this.length;
    for (let b = 0; b < batches; b++) {
      notTraceable('it takes a batch from a DataLoader, which a replay would not do (it would train on the same batch); pass each batch to the compiled step');
      const indices = order.subarray(b * this.batchSize, (b + 1) * this.batchSize);
      const batch: unknown = this.collate ? collateWith(this.collate, this.dataset, indices) : this.dataset.getBatch(indices);
      yield disposable(batch as object) as unknown as Batch<T, B>;
    }
  }
}

/**
 * The batch `collate` makes of the samples at `indices`. Its temporaries go with its tidy; the
 * samples are disposed unless they are in the batch (found by walking it as disposeAll does).
 */
function collateWith<T, B>(collate: (samples: T[]) => B, dataset: BatchSource<T>, indices: ArrayLike<number>): B {
  const samples: T[] = [];
  let batch: B | undefined;
  try {
    for (let i = 0; i < indices.length; i++) samples.push(dataset.get(indices[i]!));
    batch = tidy(() => collate(samples));
    if (typeof batch !== 'object' || batch === null) throw new ValueError(`DataLoader: collate must return tensors in an array or a plain object (or one tensor); got ${batch === null ? 'null' : typeof batch}`);
    return batch;
  } finally {
    const kept = new Set<unknown>();
    if (batch !== undefined) collectTensors(batch, kept);
    for (const s of samples) disposeAll(s, kept);
  }
}
function collectTensors(value: unknown, into: Set<unknown>): void {
  if (typeof value !== 'object' || value === null) return;
  if ((value as { __isTensor?: boolean }).__isTensor) into.add(value);
  else for (const v of Array.isArray(value) ? value : Object.values(value)) collectTensors(v, into);
}

// One function for every batch rather than a closure per batch; non-enumerable, so printing a
// batch shows only its tensors.
function disposeBatch(this: object): void {
  disposeAll(this);
}
function disposable(batch: object): Disposable {
  if (!(Symbol.dispose in batch)) Object.defineProperty(batch, Symbol.dispose, { value: disposeBatch });
  return batch as Disposable;
}
