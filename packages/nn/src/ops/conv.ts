import { ShapeError, DTypeError, ValueError, defineOp, fmt, run, sum, tidy, unsqueeze, squeeze, type Shape, type Tensor, type Conv2dAttrs } from '@tapegrad/tensor';
import { registerGradient } from '@tapegrad/autograd';
import { checkFloat, checkRank, outSize, pair } from './util.js';

// conv2d: definition and gradient here; CPU kernels (im2col + gemm, forward and both backward
// passes) in @tapegrad/backend-cpu's kernels/conv.ts, matched by op name.

/** Options of {@link conv2d} and {@link Conv2d}; a number means the same for height and width. */
export interface Conv2dOptions {
  /** Default 1. */
  stride?: number | [number, number];
  /** Zero padding on each side (default 0), or 'valid' (none) or 'same' (output size = input size; stride 1). */
  padding?: number | [number, number] | 'valid' | 'same';
  /** Spacing between kernel elements (default 1). */
  dilation?: number | [number, number];
  /** Split channels into this many independent groups (default 1); must divide both channel counts. */
  groups?: number;
}

defineOp<Conv2dAttrs>({
  name: 'conv2d',
  infer: ([x, w, b], a) => {
    checkRank('conv2d', 'input', x!, [4], '[N, C, H, W]');
    checkRank('conv2d', 'weight', w!, [4], '[outChannels, inChannels / groups, kH, kW]');
    checkFloat('conv2d', 'input', x!);
    if (w!.dtype !== x!.dtype) throw new DTypeError(`conv2d: weight dtype ${w!.dtype} must match input dtype ${x!.dtype}`);
    const [n, c, h, wd] = x!.shape as [number, number, number, number];
    const [cout, cg, kh, kw] = w!.shape as [number, number, number, number];
    if (cg * a.groups !== c) {
      throw new ShapeError(`conv2d: input ${fmt(x!.shape)} has ${c} channels but weight ${fmt(w!.shape)} with groups=${a.groups} expects ${cg * a.groups}`);
    }
    if (cout % a.groups !== 0) throw new ShapeError(`conv2d: weight ${fmt(w!.shape)} has ${cout} output channels, not divisible by groups=${a.groups}`);
    if (b && (b.ndim !== 1 || b.shape[0] !== cout || b.dtype !== x!.dtype)) {
      throw new ShapeError(`conv2d: bias must be a ${x!.dtype} tensor of shape [${cout}]; got ${b.dtype} ${fmt(b.shape)}`);
    }
    const oh = outSize(h, kh, a.stride[0], a.padding[0], a.dilation[0]);
    const ow = outSize(wd, kw, a.stride[1], a.padding[1], a.dilation[1]);
    if (oh < 1 || ow < 1) {
      throw new ShapeError(`conv2d: input ${fmt(x!.shape)} (padded by ${fmt(a.padding)}) is smaller than the dilated kernel ${fmt([kh, kw])}; the output would be empty`);
    }
    return [{ shape: [n, cout, oh, ow], dtype: x!.dtype }];
  },
});
defineOp<Conv2dAttrs>({ name: 'conv2dInputGrad', differentiable: false, infer: ([g], a) => [{ shape: a.shape!, dtype: g!.dtype }] });
defineOp<Conv2dAttrs>({ name: 'conv2dWeightGrad', differentiable: false, infer: ([x], a) => [{ shape: a.shape!, dtype: x!.dtype }] });

registerGradient<Conv2dAttrs>('conv2d', {
  saveInputs: [0, 1],
  backward: (c, [g]) => {
    const [x, w] = [c.inputs[0]!, c.inputs[1]!];
    const grads = [
      c.needsGrad[0] ? run('conv2dInputGrad', [g!, w], { ...c.attrs, shape: c.inputShapes[0] }) : null,
      c.needsGrad[1] ? run('conv2dWeightGrad', [x, g!], { ...c.attrs, shape: c.inputShapes[1] }) : null,
    ];
    return c.inputShapes.length === 3 ? [...grads, c.needsGrad[2] ? sum(g!, [0, 2, 3]) : null] : grads;
  },
});

/**
 * 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) of input [N, C, H, W]
 * (or unbatched [C, H, W]) with weight [outChannels, C / groups, kH, kW] and optional bias
 * [outChannels], giving [N, outChannels, outH, outW]. Wrong ranks, channel counts or an empty
 * output throw a ShapeError; bad stride, padding, dilation or groups a ValueError.
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  checkRank('conv2d', 'input', input, [3, 4], '[N, C, H, W] or unbatched [C, H, W]');
  checkRank('conv2d', 'weight', weight, [4], '[outChannels, inChannels / groups, kH, kW]');
  const stride = pair('conv2d', 'stride', options.stride ?? 1, 1);
  const dilation = pair('conv2d', 'dilation', options.dilation ?? 1, 1);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ValueError(`conv2d: groups must be a positive integer; got ${groups}`);
  let padding: [number, number];
  const p = options.padding ?? 0;
  if (p === 'valid') padding = [0, 0];
  else if (p === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) throw new ValueError(`conv2d: padding 'same' needs stride 1; got stride ${fmt(stride)}`);
    const total = [0, 1].map((i) => dilation[i]! * (weight.shape[2 + i]! - 1));
    if (total.some((t) => t % 2 !== 0)) {
      throw new ValueError(`conv2d: padding 'same' with kernel ${fmt(weight.shape.slice(2))} and dilation ${fmt(dilation)} needs uneven padding, which is not supported; pad explicitly`);
    }
    padding = [total[0]! / 2, total[1]! / 2];
  } else padding = pair('conv2d', 'padding', p, 0);
  const attrs: Conv2dAttrs = { stride, padding, dilation, groups };
  const inputs = bias ? [input, weight, bias] : [input, weight];
  if (input.ndim === 4) return run('conv2d', inputs, attrs);
  return tidy(() => squeeze(run('conv2d', [unsqueeze(input, 0), ...inputs.slice(1)], attrs), 0));
}

export type { Conv2dAttrs };
