import { IndexError, ValueError } from '../errors.js';
import { dispatch } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { fmt, normalizeDim } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import type { ValuesIndices } from './reduce.js';
import { narrow } from './view.js';
import { contiguous } from './copy.js';

/** Attrs of sort: the dim, normalised, and the order. */
export interface SortAttrs {
  dim: number;
  descending: boolean;
}

// Always stable (torch's stable=True): equal elements keep their order, in both directions, so
// every backend gives the same indices. NaN sorts as the largest value (last ascending, first
// descending) and -0 equals 0, as in torch.
defineOp<SortAttrs>({
  name: 'sort',
  infer: ([x], { dim }) => {
    const n = x!.ndim ? x!.shape[dim]! : 1;
    if (n > 2 ** 31) throw new ValueError(`sort: an index into ${n} elements does not fit in int32, the dtype of its indices (PyTorch's is int64, which tapegrad lacks)`);
    return [{ shape: x!.shape, dtype: x!.dtype }, { shape: x!.shape, dtype: 'int32' }];
  },
});

/**
 * Sort along `dim` (the last by default), torch.sort with `stable=True`: the sorted values and
 * the int32 index of each in the input. Equal elements keep their input order, descending too;
 * NaN sorts as the largest value. The values' gradient goes back through the indices.
 */
export function sort(x: Tensor, dim = -1, descending = false): ValuesIndices {
  const [values, indices] = dispatch('sort', [x], { dim: normalizeDim('sort', dim, x.ndim), descending });
  return { values: values!, indices: indices! };
}
/** The int32 indices that sort `x` along `dim` (torch.argsort, stable); see {@link sort}. */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  return tidy(() => sort(x, dim, descending).indices);
}
/**
 * The `k` largest (or, with `largest` false, smallest) elements along `dim` and their int32
 * indices, torch.topk, in sorted order. Ties go to the lower index (torch leaves which tied
 * element it picks unspecified); NaN counts as the largest. `sorted` false is accepted: the
 * result is sorted anyway, which torch allows.
 */
export function topk(x: Tensor, k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
  void sorted;
  const d = normalizeDim('topk', dim, x.ndim);
  const n = x.ndim ? x.shape[d]! : 1;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new IndexError(`topk: k ${k} is out of range for dim ${dim} of size ${n} (shape ${fmt(x.shape)}); expected an integer in [0, ${n}]`);
  }
  return tidy(() => {
    const { values, indices } = sort(x, d, largest);
    if (x.ndim === 0 || k === n) return { values, indices };
    // copies, so the whole sort is not kept alive by k of its elements
    return { values: contiguous(narrow(values, d, 0, k)), indices: contiguous(narrow(indices, d, 0, k)) };
  });
}
