import { DeviceError, DTypeError, IndexError, ShapeError, ValueError } from '../errors.js';
import { getBackend } from '../backend.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, fmt, normalizeDim, shapesEqual, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { TypedArray } from '../dtype.js';
import { fromArray } from '../creation.js';
import { tidy } from '../memory.js';
import { contiguous } from './copy.js';
import { expand, reshape } from './view.js';

// Index values are checked by the kernels (they depend on the data): an index outside
// [0, size) raises IndexError naming the op, the value and where it was found (as torch).

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be an int32 tensor; got ${index.dtype}`);
}

/** Attrs of the ops that index along one dim. */
export interface DimAttrs {
  dim: number;
}
defineOp<DimAttrs>({
  name: 'gather',
  infer: ([x, index], { dim }) => {
    checkIndex('gather', index!);
    if (index!.ndim !== x!.ndim) throw new ShapeError(`gather: index must have the same rank as input; got index ${fmt(index!.shape)} and input ${fmt(x!.shape)}`);
    index!.shape.forEach((n, d) => {
      if (d !== dim && n > x!.shape[d]!) throw new ShapeError(`gather: index ${fmt(index!.shape)} is larger than input ${fmt(x!.shape)} in dim ${d}`);
    });
    return [{ shape: index!.shape, dtype: x!.dtype }];
  },
});
/** out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims), as torch.gather. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  return run('gather', [x, index], { dim: normalizeDim('gather', dim, x.ndim) });
}

defineOp<DimAttrs>({
  name: 'scatterAdd',
  infer: ([x, index, src], { dim }) => {
    checkIndex('scatterAdd', index!);
    if (index!.ndim !== x!.ndim || src!.ndim !== x!.ndim) {
      throw new ShapeError(`scatterAdd: input, index and src must have the same rank; got ${fmt(x!.shape)}, ${fmt(index!.shape)} and ${fmt(src!.shape)}`);
    }
    index!.shape.forEach((n, d) => {
      if (n > src!.shape[d]! || (d !== dim && n > x!.shape[d]!)) {
        throw new ShapeError(`scatterAdd: index ${fmt(index!.shape)} is larger than src ${fmt(src!.shape)} or input ${fmt(x!.shape)} in dim ${d}`);
      }
    });
    if (src!.dtype !== x!.dtype) throw new DTypeError(`scatterAdd: src dtype ${src!.dtype} must match input dtype ${x!.dtype}`);
    return [{ shape: x!.shape, dtype: x!.dtype }];
  },
});
/** A copy of x with src added at the positions index names along dim (torch.scatter_add). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return run('scatterAdd', [x, index, src], { dim: normalizeDim('scatterAdd', dim, x.ndim) });
}

defineOp<DimAttrs>({
  name: 'indexSelect',
  infer: ([x, index], { dim }) => {
    checkIndex('indexSelect', index!);
    if (index!.ndim > 1) throw new ShapeError(`indexSelect: index must be 0-d or 1-d; got shape ${fmt(index!.shape)}`);
    const shape = x!.shape.slice();
    if (x!.ndim > 0) shape[dim] = index!.size;
    return [{ shape, dtype: x!.dtype }];
  },
});
/** The slices of x at `index` along dim (torch.index_select). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  return run('indexSelect', [x, index], { dim: normalizeDim('indexSelect', dim, x.ndim) });
}

/** Attrs of oneHot. */
export interface OneHotAttrs {
  numClasses: number;
}
defineOp<OneHotAttrs>({
  name: 'oneHot',
  differentiable: false,
  infer: ([index], { numClasses }) => {
    checkIndex('oneHot', index!);
    return [{ shape: [...index!.shape, numClasses], dtype: 'int32' }];
  },
});
/**
 * int32 one-hot vectors of length numClasses in a new last dim (torch.one_hot). numClasses -1
 * means max(index) + 1, which reads the data: CPU only.
 */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  checkIndex('oneHot', index);
  if (numClasses === -1) {
    if (index.size === 0) throw new ValueError('oneHot: cannot infer numClasses from an empty tensor; pass it');
    if (!getBackend(index.device).readSync) {
      throw new DeviceError(`oneHot: numClasses -1 (the default) reads the indices for max(index) + 1, which '${index.device}' cannot do synchronously; pass numClasses`);
    }
    numClasses = Math.max(...index.dataSync()) + 1;
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new IndexError(`oneHot: numClasses must be a positive integer; got ${numClasses}`);
  return run('oneHot', [index], { numClasses });
}

// ---- maskedSelect (issue 16) -----------------------------------------------------------------
// The output's length is the number of true elements of the mask: a value, not a shape, so it
// must be read before the output exists. On the CPU that read is immediate; elsewhere it waits
// for the device, so the form that works everywhere is async, and the synchronous one says so.

/** The broadcast shape of maskedSelect's operands, after checking them. */
function maskedShape(op: string, x: Tensor, mask: Tensor): Shape {
  x.assertLive(op);
  mask.assertLive(op);
  if (mask.dtype !== 'bool') throw new DTypeError(`${op}: mask must be a bool tensor; got ${mask.dtype}`);
  if (mask.device !== x.device) throw new DeviceError(`${op}: x is on '${x.device}' and mask on '${mask.device}'; expected one device`);
  return broadcastShapes(op, x.shape, mask.shape);
}
/** mask, broadcast to `shape`, as a contiguous tensor whose elements can be read in order. */
function maskIn(mask: Tensor, shape: Shape): Tensor {
  return shapesEqual(mask.shape, shape) && mask.isContiguous() ? mask : tidy(() => contiguous(expand(mask, shape)));
}
/** The elements of x (broadcast) where the mask's values are true: an indexSelect of their positions. */
function selectWhere(x: Tensor, shape: Shape, values: TypedArray): Tensor {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i]) count++;
  const positions = new Int32Array(count);
  for (let i = 0, k = 0; i < values.length; i++) if (values[i]) positions[k++] = i;
  return tidy(() => indexSelect(reshape(expand(x, shape), [-1]), 0, fromArray(positions, [count], 'int32', { device: x.device })));
}

/**
 * The elements of `x` where `mask` (bool, broadcast against x) is true, as a 1-d tensor in
 * row-major order (torch.masked_select); the gradient flows back to those elements. The result's
 * length depends on the mask's values, so this reads them: on the CPU at once; on a device that
 * cannot be read synchronously (WebGPU) it is a DeviceError naming {@link maskedSelectAsync},
 * which works everywhere.
 */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  const shape = maskedShape('maskedSelect', x, mask);
  if (!mask.storage.backend.readSync) {
    throw new DeviceError(`maskedSelect: the result's length is the number of true elements of the mask, which cannot be read synchronously on '${mask.device}'; use \`await maskedSelectAsync(x, mask)\``);
  }
  const m = maskIn(mask, shape);
  const values = m.dataSync();
  if (m !== mask) m.dispose();
  return selectWhere(x, shape, values);
}
/** {@link maskedSelect} on any device: waits for the mask's values, then selects on x's device. */
export async function maskedSelectAsync(x: Tensor, mask: Tensor): Promise<Tensor> {
  const shape = maskedShape('maskedSelectAsync', x, mask);
  const m = maskIn(mask, shape);
  let values: TypedArray;
  try {
    values = await m.data();
  } finally {
    if (m !== mask) m.dispose();
  }
  return selectWhere(x, shape, values);
}
