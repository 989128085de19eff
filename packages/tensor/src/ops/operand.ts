import { getDefaultDevice } from '../backend.js';
import { fitsInt32, scalarDType, type DType } from '../dtype.js';
import { TapegradError, ValueError } from '../errors.js';
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
    let dtype = typeof x === 'boolean' && !like ? 'bool' : scalarDType(x, likeDType);
    if (dtype === 'int32' && !fitsInt32(x as number)) {
      // PyTorch wraps such a scalar into int32 (1 + 2**32 == 1); true division alone computes in floating point
      if (op !== 'div') {
        throw new ValueError(`${op}: the scalar ${x} cannot be converted to int32 (an integer's dtype next to an int32 or bool tensor) without overflow; cast the tensor to float32 or float64 first`);
      }
      dtype = 'float32';
    }
    const t = full([], x, { dtype, device: like?.device ?? getDefaultDevice() });
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
