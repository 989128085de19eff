import { getBackend, type Device } from '../backend.js';
import { checkDType, isFloating, type DType } from '../dtype.js';
import { DeviceError, DTypeError, ShapeError, TapegradError } from '../errors.js';
import { checkWritable, run } from '../dispatch.js';
import { getKernel, getOp, defineOp } from '../registry.js';
import { broadcastShapes, fmt, shapesEqual } from '../shape.js';
import { autogradHooks, Tensor } from '../tensor.js';
import { fromArray, zeros } from '../creation.js';
import { isTensor, withOperands, type TensorLike } from './operand.js';
import { add, div, fillValue, mul, sub, where } from './elementwise.js';
import { trace } from '../compile/hooks.js';

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
  trace?.read(`to('${device}')`);
  const c = x.isContiguous() ? x : contiguous(x);
  const host = backend.readSync(c.storage.handle, c.dtype, c.storage.length).slice(c.offset, c.offset + x.size);
  if (c !== x) c.dispose();
  const out = fromArray(host, x.shape, x.dtype, { device }, 'to');
  if (x.requiresGrad) out.requiresGrad_(true);
  return out;
}
/** Move a tensor to another device, reading it asynchronously (works from any device). */
export async function toAsync(x: Tensor, device: Device): Promise<Tensor> {
  if (x.device === device) return x;
  const out = fromArray(await x.rawData(), x.shape, x.dtype, { device }, 'toAsync');
  if (x.requiresGrad) out.requiresGrad_(true);
  return out;
}

/** Write `s` (broadcast to dst's shape, converted to its dtype) into dst's storage; no checks, no recording. */
function write(op: string, d: Tensor, s: Tensor): void {
  const lead = d.ndim - s.ndim;
  const strides = d.shape.map((n, i) => (i < lead || s.shape[i - lead] !== n ? 0 : s.strides[i - lead]!));
  const srcView = { ...s.kernelView(), shape: d.shape, strides };
  const dstView = d.kernelView();
  const backend = getBackend(d.device);
  const kernel = getKernel('copy', d.device);
  const attrs = { dtype: d.dtype };
  backend.run(kernel, [srcView], [dstView], attrs, op);
  trace?.kernel(op, backend, kernel, [s], [srcView], [d], [dstView], attrs, undefined, undefined);
  d.storage.version++;
}

/**
 * Run the kernel `kernelName` on `inputs` with dst's own storage as its output (the backend
 * allows it: `elementwiseInPlace`), noted for the tracer and the version counter as every write is.
 */
function runInPlace(op: string, kernelName: string, inputs: readonly Tensor[], dst: Tensor): void {
  const view = dst.kernelView();
  const backend = dst.storage.backend;
  const kernel = getKernel(kernelName, dst.device);
  const ins = inputs.map((t) => (t === dst ? view : t.kernelView()));
  backend.run(kernel, ins, [view], {}, op);
  trace?.kernel(op, backend, kernel, inputs, ins, [dst], [view], {}, undefined, undefined);
  dst.storage.version++;
}

/**
 * An in-place op in grad mode on tensors that need a gradient: computed out of place by `value`
 * (recorded like any op), written into dst's storage, and dst takes the result's place in the
 * graph, as torch rebases a tensor's grad_fn. Tensors that saved dst's old value see its version
 * change and backward refuses them. Refused where autograd could not keep the graph true: on a
 * leaf that requires grad, and on storage a view shares (the other views' history would go stale).
 */
function recordInPlace<T extends Tensor>(op: string, dst: T, value: () => Tensor): T {
  checkWritable(op, dst);
  if (dst.storage.viewed) {
    throw new TapegradError(
      `${op}: cannot record an in-place op on a tensor (shape ${fmt(dst.shape)}) whose storage a view shares (reshape, transpose, slice, ...): the other views' gradients would be wrong; use the out-of-place form, or build the tensor with cat/stack`,
    );
  }
  let v = value();
  if (v.dtype !== dst.dtype) {
    const c = cast(v, dst.dtype);
    v.dispose();
    v = c;
  }
  write(op, dst, v);
  dst.gradFn = v.gradFn;
  dst.outputIndex = v.outputIndex;
  dst.requiresGrad = v.requiresGrad;
  v.dispose();
  return dst;
}

/** Whether an in-place write of dst from `others` must be recorded by autograd. */
function recording(dst: Tensor, others: readonly TensorLike[]): boolean {
  return (autogradHooks()?.isGradEnabled() ?? false) && (dst.requiresGrad || others.some((o) => isTensor(o) && o.requiresGrad));
}

/**
 * Write `src` (broadcast to dst's shape, converted to dst's dtype) into dst's storage, in place
 * (`copy_`, `fill_`, `zero_`). In grad mode, with tensors that need a gradient, it is recorded:
 * dst's old value gets a zero gradient and src the gradient of dst.
 */
export function copyInto<T extends Tensor>(dst: T, src: TensorLike, op: 'copy_' | 'fill_' | 'zero_' = 'copy_'): T {
  dst.assertLive(op);
  withOperands(op, [dst, src], ([d, s]) => {
    if (s!.device !== d!.device) throw new DeviceError(`${op}: source is on '${s!.device}' and destination on '${d!.device}'`);
    if (!shapesEqual(broadcastShapes(op, d!.shape, s!.shape), d!.shape)) {
      throw new ShapeError(`${op}: source shape ${fmt(s!.shape)} cannot be broadcast to destination shape ${fmt(d!.shape)}`);
    }
    if (recording(d!, [s!])) {
      // where(false, dst, src): src's value, a zero gradient for dst's old value
      recordInPlace(op, d!, () => {
        const keepOld = zeros(d!.shape, { dtype: 'bool', device: d!.device });
        try {
          return where(keepOld, d!, s!);
        } finally {
          keepOld.dispose();
        }
      });
    } else {
      checkWritable(op, d!);
      write(op, d!, s!);
    }
  });
  return dst;
}

const IN_PLACE = { add, sub, mul, div };
/**
 * `dst = op(dst, other)` for add_, sub_, mul_, div_. As torch, the result must keep dst's shape
 * (no broadcasting dst up) and be castable to dst's dtype (no float into an int tensor). Where
 * the backend allows it and nothing is recorded, the kernel writes straight into dst (no
 * temporary): dst must be contiguous (no element written twice) and not share storage with
 * `other`. Otherwise the result is computed out of place and written back.
 */
export function binaryInPlace<T extends Tensor>(dst: T, op: keyof typeof IN_PLACE, other: TensorLike): T {
  const name = `${op}_`;
  dst.assertLive(name);
  return withOperands(name, [dst, other], ([d, o]) => {
    o!.assertLive(name);
    const [spec] = getOp(op).infer!([d!, o!], {});
    if (!shapesEqual(spec!.shape, d!.shape)) {
      throw new ShapeError(`${name}: the result's shape ${fmt(spec!.shape)} (broadcast of ${fmt(d!.shape)} and ${fmt(o!.shape)}) does not match the shape ${fmt(d!.shape)} of the tensor written in place`);
    }
    if (!canCast(spec!.dtype, d!.dtype)) {
      throw new DTypeError(`${name}: the result type ${spec!.dtype} cannot be written in place into a ${d!.dtype} tensor`);
    }
    if (recording(d!, [o!])) {
      // mul and div need dst's old value for other's gradient: give them a copy that stays as it was
      const keepsSelf = (op === 'mul' || op === 'div') && o!.requiresGrad;
      return recordInPlace(name, dst, () => IN_PLACE[op](keepsSelf ? clone(d!) : d!, o!));
    }
    checkWritable(name, d!);
    const backend = d!.storage.backend;
    if (backend.elementwiseInPlace && d!.isContiguous() && spec!.dtype === d!.dtype && o!.device === d!.device && o!.storage !== d!.storage) {
      runInPlace(name, op, [d!, o!], d!);
      return dst;
    }
    const r = IN_PLACE[op](d!, o!);
    try {
      write(name, d!, r);
    } finally {
      r.dispose();
    }
    return dst;
  });
}

// issue 16: maskedFill_
/**
 * `value` written into dst where `mask` is true (`maskedFill_`, torch.masked_fill_): the mask
 * must broadcast to dst's shape; the value is a number or a 0-d tensor, converted to dst's
 * dtype. Recorded, or refused, as the other in-place ops. Where nothing is recorded and the
 * backend allows it, the where kernel reads and writes dst's own storage (no temporary).
 */
export function maskedFillInPlace<T extends Tensor>(dst: T, mask: Tensor, value: TensorLike): T {
  const name = 'maskedFill_';
  dst.assertLive(name);
  const { v, made } = fillValue(name, dst, mask, value);
  try {
    if (mask.device !== dst.device) throw new DeviceError(`${name}: mask is on '${mask.device}' and the tensor written in place on '${dst.device}'`);
    if (!shapesEqual(broadcastShapes(name, dst.shape, mask.shape), dst.shape)) {
      throw new ShapeError(`${name}: mask shape ${fmt(mask.shape)} cannot be broadcast to the shape ${fmt(dst.shape)} of the tensor written in place`);
    }
    if (recording(dst, [v])) return recordInPlace(name, dst, () => where(mask, v, dst));
    checkWritable(name, dst);
    const backend = dst.storage.backend;
    if (backend.elementwiseInPlace && dst.isContiguous() && v.device === dst.device && mask.storage !== dst.storage) {
      runInPlace(name, 'where', [mask, v, dst], dst);
      return dst;
    }
    const r = where(mask, v, dst);
    try {
      write(name, dst, r);
    } finally {
      r.dispose();
    }
    return dst;
  } finally {
    if (made) v.dispose();
  }
}

/** Whether torch lets a result of dtype `from` be written into a tensor of dtype `to`. */
function canCast(from: DType, to: DType): boolean {
  if (isFloating(from)) return isFloating(to);
  if (from !== 'bool') return to !== 'bool';
  return true;
}
