import { ShapeError, ValueError, defineOp, dispatch, fmt, matmul, run, squeeze, tensor, tidy, transpose, unsqueeze, type Shape, type Tensor, type Pool2dAttrs } from '@tapegrad/tensor';
import { registerGradient } from '@tapegrad/autograd';
import { checkFloat, checkRank, outSize, pair } from './util.js';

// maxPool2d and avgPool2d: definitions and gradients here; CPU kernels in
// @tapegrad/backend-cpu's kernels/pool.ts, matched by op name.

/** Options of {@link maxPool2d} and {@link MaxPool2d}; a number means the same for height and width. */
export interface MaxPool2dOptions {
  /** Default: kernelSize. */
  stride?: number | [number, number];
  /** Implicit padding on each side (default 0, at most half the kernel); padded cells never win the max. */
  padding?: number | [number, number];
  /** Spacing between window elements (default 1). */
  dilation?: number | [number, number];
  /** Round the output size up rather than down, so a last partial window counts (default false). */
  ceilMode?: boolean;
}
/** Options of {@link avgPool2d} and {@link AvgPool2d}; a number means the same for height and width. */
export interface AvgPool2dOptions {
  /** Default: kernelSize. */
  stride?: number | [number, number];
  /** Zero padding on each side (default 0, at most half the kernel). */
  padding?: number | [number, number];
  /** Round the output size up rather than down, so a last partial window counts (default false). */
  ceilMode?: boolean;
  /** Count the zero padding in the average's divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Divide every window's sum by this instead of its size. */
  divisorOverride?: number;
}

function poolInfer(op: string) {
  return ([x]: readonly Tensor[], a: Pool2dAttrs & { outSize: [number, number] }) => {
    checkRank(op, 'input', x!, [4], '[N, C, H, W]');
    checkFloat(op, 'input', x!);
    return [{ shape: [x!.shape[0]!, x!.shape[1]!, ...a.outSize], dtype: x!.dtype }];
  };
}
defineOp<Pool2dAttrs & { outSize: [number, number] }>({
  name: 'maxPool2d',
  infer: (xs, a) => {
    const [spec] = poolInfer('maxPool2d')(xs, a);
    return [spec!, { shape: spec!.shape, dtype: 'int32' }];
  },
});
defineOp<Pool2dAttrs & { outSize: [number, number] }>({ name: 'avgPool2d', infer: poolInfer('avgPool2d') });
defineOp<Pool2dAttrs>({ name: 'maxPool2dBackward', differentiable: false, infer: ([g], a) => [{ shape: a.shape!, dtype: g!.dtype }] });
defineOp<Pool2dAttrs>({ name: 'avgPool2dBackward', differentiable: false, infer: ([g], a) => [{ shape: a.shape!, dtype: g!.dtype }] });

registerGradient<Pool2dAttrs>('maxPool2d', {
  saveOutputs: true,
  backward: (c, [g]) => [run('maxPool2dBackward', [g!, c.outputs[1]!], { ...c.attrs, shape: c.inputShapes[0] })],
});
registerGradient<Pool2dAttrs>('avgPool2d', {
  backward: (c, [g]) => [run('avgPool2dBackward', [g!], { ...c.attrs, shape: c.inputShapes[0] })],
});

function attrs(op: string, x: Tensor, kernelSize: number | [number, number], o: MaxPool2dOptions & AvgPool2dOptions) {
  checkRank(op, 'input', x, [3, 4], '[N, C, H, W] or unbatched [C, H, W]');
  const k = pair(op, 'kernelSize', kernelSize, 1);
  const stride = pair(op, 'stride', o.stride ?? k, 1);
  const padding = pair(op, 'padding', o.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', o.dilation ?? 1, 1);
  if (padding[0] > k[0] / 2 || padding[1] > k[1] / 2) {
    throw new ValueError(`${op}: padding ${fmt(padding)} must be at most half of kernelSize ${fmt(k)}`);
  }
  const [h, w] = x.shape.slice(-2) as [number, number];
  const size: [number, number] = [0, 1].map((i) => outSize([h, w][i]!, k[i]!, stride[i]!, padding[i]!, dilation[i]!, o.ceilMode)) as [number, number];
  if (size[0] < 1 || size[1] < 1) {
    throw new ShapeError(`${op}: input ${fmt(x.shape)} is too small for kernelSize ${fmt(k)} (padding ${fmt(padding)}, dilation ${fmt(dilation)}); the output would be empty`);
  }
  if (o.divisorOverride !== undefined && !(o.divisorOverride !== 0 && Number.isFinite(o.divisorOverride))) {
    throw new ValueError(`${op}: divisorOverride must be a non-zero number; got ${o.divisorOverride}`);
  }
  return { kernelSize: k, stride, padding, dilation, countIncludePad: o.countIncludePad ?? true, divisorOverride: o.divisorOverride ?? null, outSize: size };
}

function batched(x: Tensor, f: (x4: Tensor) => Tensor[]): Tensor[] {
  if (x.ndim === 4) return f(x);
  return tidy(() => f(unsqueeze(x, 0)).map((t) => squeeze(t, 0)));
}

/**
 * Max over sliding kernelSize windows of [N, C, H, W] (or [C, H, W]), as torch's max_pool2d.
 * A wrong rank or an empty output throws a ShapeError; a bad kernelSize, stride, padding or
 * dilation a ValueError.
 */
export function maxPool2d(x: Tensor, kernelSize: number | [number, number], options: MaxPool2dOptions = {}): Tensor {
  const [out, indices] = maxPool2dWithIndices(x, kernelSize, options);
  indices.dispose();
  return out;
}
/** maxPool2d plus, as int32, each maximum's flat index h·W + w in its input plane (return_indices=True). */
export function maxPool2dWithIndices(x: Tensor, kernelSize: number | [number, number], options: MaxPool2dOptions = {}): [Tensor, Tensor] {
  const a = attrs('maxPool2d', x, kernelSize, options);
  return batched(x, (x4) => dispatch('maxPool2d', [x4], a)) as [Tensor, Tensor];
}
/**
 * Mean over sliding kernelSize windows of [N, C, H, W] (or [C, H, W]), as torch's avg_pool2d.
 * A wrong rank or an empty output throws a ShapeError; a bad kernelSize, stride, padding or
 * divisorOverride a ValueError.
 */
export function avgPool2d(x: Tensor, kernelSize: number | [number, number], options: AvgPool2dOptions = {}): Tensor {
  const a = attrs('avgPool2d', x, kernelSize, options);
  return batched(x, (x4) => [run('avgPool2d', [x4], a)])[0]!;
}

export type { Pool2dAttrs };

// ---- issue 16: adaptiveAvgPool2d ---------------------------------------------------------------

/** An adaptive pooling's output size: [outH, outW] (null keeps the input's size), or one number for both. */
export type AdaptiveSize = number | null | readonly [number | null, number | null];

/**
 * The start and end of each of `out` bins over `size` elements, as PyTorch's adaptive pooling
 * places them: bin i is [floor(i·size/out), ceil((i+1)·size/out)), so bins tile the input and
 * overlap by one element where the sizes do not divide.
 */
function bins(size: number, out: number): [number, number][] {
  return Array.from({ length: out }, (_, i) => [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)]);
}

/**
 * Average pooling to a fixed output size whatever the input's (torch's adaptive_avg_pool2d):
 * [N, C, H, W] (or [C, H, W]) to [N, C, outH, outW], bin boundaries as PyTorch's. Where the
 * sizes divide it is {@link avgPool2d}; otherwise two small matrix products with the bins'
 * averaging weights (Pₕ · x · Pᵥᵀ). A wrong rank throws a ShapeError; a bad size a ValueError.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  checkRank('adaptiveAvgPool2d', 'input', x, [3, 4], '[N, C, H, W] or unbatched [C, H, W]');
  checkFloat('adaptiveAvgPool2d', 'input', x);
  const [h, w] = x.shape.slice(-2) as [number, number];
  const given = Array.isArray(outputSize) ? outputSize : [outputSize, outputSize];
  if (given.length !== 2) throw new ValueError(`adaptiveAvgPool2d: outputSize must be a number or [outH, outW]; got ${JSON.stringify(outputSize)}`);
  const size = given.map((s, i) => s ?? [h, w][i]!) as [number, number];
  if (!size.every((s) => Number.isInteger(s) && s >= 1)) throw new ValueError(`adaptiveAvgPool2d: outputSize must hold positive integers (or null); got ${JSON.stringify(outputSize)}`);
  if (h === 0 || w === 0) throw new ShapeError(`adaptiveAvgPool2d: input ${fmt(x.shape)} has an empty spatial dim`);
  if (h % size[0] === 0 && w % size[1] === 0) return avgPool2d(x, [h / size[0], w / size[1]]);
  const weights = (n: number, out: number) => {
    const m = new Float64Array(out * n);
    bins(n, out).forEach(([s, e], i) => m.fill(1 / (e - s), i * n + s, i * n + e));
    return tensor(m, { shape: [out, n], dtype: x.dtype, device: x.device });
  };
  return tidy(() => matmul(matmul(weights(h, size[0]), x), transpose(weights(w, size[1]), 0, 1)));
}
