import { ShapeError, ValueError, IndexError, fmt, stack, tensor, tidy, type Tensor } from '@tapegrad/tensor';

/** What a sample may hold: tensors, numbers, booleans, in arrays or plain objects. */
export type Sample = Tensor | number | boolean | readonly Sample[] | { readonly [key: string]: Sample };

/** A sample with every leaf turned into a batched tensor (what a DataLoader yields). */
export type Collated<T> = T extends Tensor | number | boolean ? Tensor : { -readonly [K in keyof T]: Collated<T[K]> };

/**
 * A map-style dataset (torch.utils.data.Dataset): `length` samples, `get(i)` the i-th. The
 * tensors `get` returns belong to the caller (the DataLoader disposes them after batching), so
 * return fresh tensors or views (`t.narrow(...)`), not tensors the dataset keeps.
 */
export abstract class Dataset<T = Sample> {
  /** The number of samples (len(dataset)). */
  abstract get length(): number;
  /** The sample at `index`, in [0, length); a fresh value the caller owns. */
  abstract get(index: number): T;

  /**
   * The samples at `indices`, batched along a new first dim. The default stacks `get(i)` for
   * each index; datasets that can gather a batch at once (TensorDataset) override it.
   */
  getBatch(indices: ArrayLike<number>): Collated<T> {
    const samples: T[] = [];
    try {
      for (let i = 0; i < indices.length; i++) samples.push(this.get(indices[i]!));
      return collate(samples);
    } finally {
      for (const s of samples) disposeAll(s);
    }
  }
}

/**
 * Batch samples of one structure: tensors are stacked, numbers become a float32 tensor and
 * booleans a bool tensor (JavaScript cannot tell 1 from 1.0, so return class indices from `get`
 * as int32 tensors, `tensor(label, { dtype: 'int32' })`, to batch them as int32).
 */
export function collate<T>(samples: readonly T[]): Collated<T> {
  return collateAny(samples as readonly Sample[]) as Collated<T>;
}
function collateAny(samples: readonly Sample[]): unknown {
  if (samples.length === 0) throw new ValueError('collate: expected at least one sample');
  const first = samples[0]!;
  if (typeof first === 'number' || typeof first === 'boolean') return tensor(samples as number[] | boolean[]);
  if (isTensor(first)) return stack(samples as Tensor[]);
  if (Array.isArray(first)) {
    return first.map((_, k) => collateAny(samples.map((s) => field(s, k, first.length))));
  }
  const keys = Object.keys(first);
  return Object.fromEntries(keys.map((k) => [k, collateAny(samples.map((s) => field(s, k, keys.length)))]));
}
function field(sample: Sample, key: string | number, size: number): Sample {
  const v = (sample as Record<string | number, Sample>)[key];
  if (v === undefined || (Array.isArray(sample) ? sample.length : Object.keys(sample).length) !== size) {
    throw new ValueError(`collate: samples differ in structure: expected ${size} fields like the first sample, and '${key}' in each`);
  }
  return v;
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && (x as { __isTensor?: boolean }).__isTensor === true;
}
/** Dispose every tensor in a sample or batch (nested in arrays or plain objects), except those in `except`. */
export function disposeAll(value: unknown, except?: ReadonlySet<unknown>): void {
  if (isTensor(value)) {
    if (!except?.has(value)) value.dispose();
  } else if (Array.isArray(value)) for (const v of value) disposeAll(v, except);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) disposeAll(v, except);
}

/**
 * Samples are rows of tensors that share their first dim (torch TensorDataset): `get(i)` is
 * `[t0[i], t1[i], ...]`. The dataset does not own the tensors: dispose them yourself.
 */
export class TensorDataset<T extends Tensor[] = Tensor[]> extends Dataset<T> {
  /** The tensors given at construction, in order. */
  readonly tensors: T;
  /**
   * @param tensors - One or more tensors of at least one dim, all with the same size of dim 0 (else
   * a ShapeError; none at all is a ValueError).
   */
  constructor(...tensors: T) {
    super();
    if (tensors.length === 0) throw new ValueError('TensorDataset: expected at least one tensor');
    const n = tensors[0]!.ndim > 0 ? tensors[0]!.shape[0] : undefined;
    tensors.forEach((t, i) => {
      if (t.ndim === 0 || t.shape[0] !== n) {
        throw new ShapeError(`TensorDataset: all tensors must share their first dim; tensor 0 has shape ${fmt(tensors[0]!.shape)} and tensor ${i} has ${fmt(t.shape)}`);
      }
    });
    this.tensors = tensors;
  }
  /** The size of the tensors' first dim. */
  get length(): number {
    return this.tensors[0]!.shape[0]!;
  }
  /** Views of row `index` of each tensor (negative counts from the end; out of range throws an IndexError). */
  get(index: number): T {
    if (!Number.isInteger(index) || index < -this.length || index >= this.length) {
      throw new IndexError(`TensorDataset.get: index ${index} is out of range for ${this.length} samples`);
    }
    const i = index < 0 ? index + this.length : index;
    return this.tensors.map((t) => t.narrow(0, i, 1).squeeze(0)) as T;
  }
  /** One indexSelect per tensor: no per-sample tensors. */
  override getBatch(indices: ArrayLike<number>): Collated<T> {
    return tidy(() => {
      const byDevice = new Map<string, Tensor>();
      return this.tensors.map((t) => {
        let index = byDevice.get(t.device);
        if (!index) byDevice.set(t.device, (index = tensor(Int32Array.from(indices), { device: t.device })));
        return t.indexSelect(0, index);
      });
    }) as Collated<T>;
  }
}
