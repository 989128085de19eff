import { getDefaultDevice } from '../backend.js';
import { scalarDType, type DType } from '../dtype.js';
import { TapegradError } from '../errors.js';
import { full } from '../creation.js';
import { Tensor } from '../tensor.js';

/** A tensor, or a plain number/boolean that acts as a 0-d tensor of a fitting dtype. */
export type TensorLike = Tensor | number | boolean;

/** Whether `x` is a Tensor (also across two copies of the package). */
export function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && (x as { __isTensor?: boolean }).__isTensor === true;
}

/**
 * Turn the operands of an op into tensors: numbers become 0-d tensors on the device of the
 * tensor operands, with the dtype PyTorch gives a Python scalar beside them.
 */
export function operands(op: string, xs: readonly TensorLike[]): { tensors: Tensor[]; temps: Tensor[] } {
  const like = xs.find(isTensor);
  const likeDType: DType = like?.dtype ?? 'float32';
  const temps: Tensor[] = [];
  const tensors = xs.map((x) => {
    if (isTensor(x)) return x;
    if (typeof x !== 'number' && typeof x !== 'boolean') {
      throw new TapegradError(`${op}: expected a Tensor or a number; got ${x === null ? 'null' : typeof x}`);
    }
    const t = full([], x, { dtype: typeof x === 'boolean' && !like ? 'bool' : scalarDType(x, likeDType), device: like?.device ?? getDefaultDevice() });
    temps.push(t);
    return t;
  });
  return { tensors, temps };
}

/** Run `f` on the operands as tensors and dispose the temporary scalar tensors afterwards. */
export function withOperands<T>(op: string, xs: readonly TensorLike[], f: (ts: Tensor[]) => T): T {
  const { tensors, temps } = operands(op, xs);
  try {
    return f(tensors);
  } finally {
    for (const t of temps) t.dispose();
  }
}
