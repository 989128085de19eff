import { getBackend, type Device } from '../backend.js';
import { checkDType, type DType } from '../dtype.js';
import { DeviceError, ShapeError, TapegradError } from '../errors.js';
import { run } from '../dispatch.js';
import { getKernel, getOp, defineOp } from '../registry.js';
import { broadcastShapes, fmt, shapesEqual } from '../shape.js';
import { autogradHooks, Tensor } from '../tensor.js';
import { fromArray } from '../creation.js';
import { isTensor, withOperands, type TensorLike } from './operand.js';
import { add, div, mul, sub } from './elementwise.js';

// 'copy' is the one data-movement kernel: a strided read into a contiguous output, with a
// dtype conversion when the output dtype differs. contiguous, clone and cast are all 'copy'.
defineOp<{ dtype: DType }>({ name: 'copy', infer: ([x], { dtype }) => [{ shape: x!.shape, dtype }] });

/** A contiguous copy of `x` (always copies; `x.contiguous()` returns x when it already is). */
export function contiguous(x: Tensor): Tensor {
  return run('copy', [x], { dtype: x.dtype });
}
/** A copy of `x` with its own storage. */
export function clone(x: Tensor): Tensor {
  return run('copy', [x], { dtype: x.dtype });
}
/** Convert to `dtype` (float to int truncates toward zero; anything to bool is `!= 0`). */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkDType('cast', 'dtype', dtype);
  return dtype === x.dtype ? x : run('copy', [x], { dtype });
}

/** A copy on another device (or `x` itself when already there). */
export function toDevice(x: Tensor, device: Device): Tensor {
  x.assertLive('to');
  if (x.device === device) return x;
  const backend = x.storage.backend;
  if (!backend.readSync) {
    throw new DeviceError(`to: moving a tensor off '${x.device}' needs a read; use \`await toAsync(t, '${device}')\``);
  }
  const c = x.isContiguous() ? x : contiguous(x);
  const host = backend.readSync(c.storage.handle, c.dtype, c.storage.length).slice(c.offset, c.offset + x.size);
  if (c !== x) c.dispose();
  const out = fromArray(host, x.shape, x.dtype, { device });
  if (x.requiresGrad) out.requiresGrad_(true);
  return out;
}
/** Move a tensor to another device, reading it asynchronously (works from any device). */
export async function toAsync(x: Tensor, device: Device): Promise<Tensor> {
  if (x.device === device) return x;
  const out = fromArray(await x.data(), x.shape, x.dtype, { device });
  if (x.requiresGrad) out.requiresGrad_(true);
  return out;
}

/**
 * Write `src` (broadcast to dst's shape, converted to dst's dtype) into dst's storage, in place.
 * Not recorded by autograd: it is for optimizers, initialisers and gradient rules.
 */
export function copyInto<T extends Tensor>(dst: T, src: TensorLike): T {
  dst.assertLive('copy_');
  const hooks = autogradHooks();
  if (hooks?.isGradEnabled() && dst.requiresGrad && dst.isLeaf) {
    throw new TapegradError('copy_: a leaf tensor that requires grad cannot be modified in place outside noGrad()');
  }
  withOperands('copy_', [dst, src], ([d, s]) => {
    if (s!.device !== d!.device) throw new DeviceError(`copy_: source is on '${s!.device}' and destination on '${d!.device}'`);
    if (!shapesEqual(broadcastShapes('copy_', d!.shape, s!.shape), d!.shape)) {
      throw new ShapeError(`copy_: source shape ${fmt(s!.shape)} cannot be broadcast to destination shape ${fmt(d!.shape)}`);
    }
    const lead = d!.ndim - s!.ndim;
    const strides = d!.shape.map((n, i) => (i < lead || s!.shape[i - lead] !== n ? 0 : s!.strides[i - lead]!));
    const srcView = { ...s!.kernelView(), shape: d!.shape, strides };
    getBackend(d!.device).run(getKernel('copy', d!.device), [srcView], [d!.kernelView()], { dtype: d!.dtype }, 'copy_');
  });
  return dst;
}
/** `dst = f(dst, other)` in place, e.g. inPlace(p, sub, update). */
export function inPlace<T extends Tensor>(dst: T, f: (a: Tensor, b: TensorLike) => Tensor, other: TensorLike): T {
  const r = f(dst, other);
  try {
    return copyInto(dst, r);
  } finally {
    r.dispose();
  }
}

const IN_PLACE = { add, sub, mul, div };
/**
 * `dst = op(dst, other)` for add_, sub_, mul_, div_. Where the backend allows it, the kernel
 * writes straight into dst (no temporary, no copy back): dst must be contiguous (no element
 * written twice), keep its shape and dtype, not share storage with `other`, and nothing may
 * need recording. Anything else takes `inPlace`, with the same result.
 */
export function binaryInPlace<T extends Tensor>(dst: T, op: keyof typeof IN_PLACE, other: TensorLike): T {
  dst.assertLive(`${op}_`);
  const backend = dst.storage.backend;
  const hooks = autogradHooks();
  const recording = hooks?.isGradEnabled() && (dst.requiresGrad || (isTensor(other) && other.requiresGrad));
  if (backend.elementwiseInPlace && !recording && dst.isContiguous()) {
    const done = withOperands(`${op}_`, [dst, other], ([d, o]) => {
      o!.assertLive(`${op}_`);
      if (o!.device !== d!.device || o!.storage === d!.storage) return false;
      const [spec] = getOp(op).infer!([d!, o!], {});
      if (spec!.dtype !== d!.dtype || !shapesEqual(spec!.shape, d!.shape)) return false;
      const view = d!.kernelView();
      backend.run(getKernel(op, d!.device), [view, o!.kernelView()], [view], {}, `${op}_`);
      return true;
    });
    if (done) return dst;
  }
  return inPlace(dst, IN_PLACE[op], other);
}
