import { autocastActive, autocastOp, ShapeError, DTypeError, ValueError, add, defineOp, fmt, narrow, reshape, run, sum, tidy, unsqueeze, squeeze, type Shape, type Tensor, type Conv2dAttrs } from '@tapegrad/tensor';
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
  if (autocastActive()) return autocastOp('conv2d', [input, weight, bias], ([x, w, b]) => conv2d(x, w, b, options));
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

// ---- issue 16: conv1d and convTranspose2d ------------------------------------------------------

/** Options of {@link conv1d} and {@link Conv1d}. */
export interface Conv1dOptions {
  /** Default 1. */
  stride?: number;
  /** Zero padding on each side (default 0), or 'valid' (none) or 'same' (output length = input length; stride 1). */
  padding?: number | 'valid' | 'same';
  /** Spacing between kernel elements (default 1). */
  dilation?: number;
  /** Split channels into this many independent groups (default 1); must divide both channel counts. */
  groups?: number;
}

/**
 * 1-D convolution (cross-correlation, as torch.nn.functional.conv1d) of input [N, C, L] (or
 * unbatched [C, L]) with weight [outChannels, C / groups, k] and optional bias [outChannels],
 * giving [N, outChannels, outL]. It is {@link conv2d} over a height of 1 (views, no copies): the
 * same im2col + matrix-product kernels, which a 1-D kernel of its own would repeat. Wrong ranks
 * or channel counts throw a ShapeError; bad stride, padding, dilation or groups a ValueError.
 */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv1dOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('conv1d', [input, weight, bias], ([x, w, b]) => conv1d(x, w, b, options));
  checkRank('conv1d', 'input', input, [2, 3], '[N, C, L] or unbatched [C, L]');
  checkRank('conv1d', 'weight', weight, [3], '[outChannels, inChannels / groups, k]');
  // conv2d checks these too, but would name itself and the unsqueezed shapes: these name conv1d's
  const int = (arg: string, v: unknown, min: number) => {
    if (!Number.isInteger(v) || (v as number) < min) throw new ValueError(`conv1d: ${arg} must be an integer >= ${min}; got ${JSON.stringify(v)}`);
    return v as number;
  };
  const [s, d, groups] = [int('stride', options.stride ?? 1, 1), int('dilation', options.dilation ?? 1, 1), int('groups', options.groups ?? 1, 1)];
  const p = options.padding ?? 0;
  if (p !== 'valid' && p !== 'same') int("padding (or 'valid' or 'same')", p, 0);
  if (p === 'same' && s !== 1) throw new ValueError(`conv1d: padding 'same' needs stride 1; got stride ${s}`);
  if (p === 'same' && (d * (weight.shape[2]! - 1)) % 2) {
    throw new ValueError(`conv1d: padding 'same' with kernel ${weight.shape[2]} and dilation ${d} needs uneven padding, which is not supported; pad explicitly`);
  }
  const c = input.shape[input.ndim - 2]!;
  if (weight.shape[1]! * groups !== c) {
    throw new ShapeError(`conv1d: input ${fmt(input.shape)} has ${c} channels but weight ${fmt(weight.shape)} with groups=${groups} expects ${weight.shape[1]! * groups}`);
  }
  const span = input.shape[input.ndim - 1]! + 2 * (typeof p === 'number' ? p : 0) - d * (weight.shape[2]! - 1);
  if (p !== 'same' && span < 1) {
    throw new ShapeError(`conv1d: input ${fmt(input.shape)} (padded by ${typeof p === 'number' ? p : 0}) is shorter than the dilated kernel (${d * (weight.shape[2]! - 1) + 1}); the output would be empty`);
  }
  return tidy(() => {
    const y = conv2d(unsqueeze(input, -2), unsqueeze(weight, 2), bias, { stride: [1, s], padding: typeof p === 'number' ? [0, p] : p, dilation: [1, d], groups });
    return squeeze(y, -2);
  });
}

/** Options of {@link convTranspose2d} and {@link ConvTranspose2d}; a number means the same for height and width. */
export interface ConvTranspose2dOptions {
  /** Default 1. */
  stride?: number | [number, number];
  /** Rows and columns cropped from each side of the full output (default 0): dilation·(k − 1) − padding of zeros pad the input. */
  padding?: number | [number, number];
  /** Rows and columns added at the bottom and right of the output (default 0); smaller than stride or dilation. */
  outputPadding?: number | [number, number];
  /** Split channels into this many independent groups (default 1); must divide both channel counts. */
  groups?: number;
  /** Spacing between kernel elements (default 1). */
  dilation?: number | [number, number];
}

// convTranspose2d is the gradient of conv2d with respect to its input, and is computed by the
// same kernels (conv2dInputGrad's, matched by name in each backend, with the output's shape in
// attrs.shape: outputPadding only makes it larger); its gradients are conv2d (input) and
// conv2dWeightGrad (weight) with the roles of the two tensors swapped. The bias is added by
// the caller.
defineOp<Conv2dAttrs>({
  name: 'convTranspose2d',
  infer: ([x, w], a) => {
    checkRank('convTranspose2d', 'input', x!, [4], '[N, C, H, W]');
    checkRank('convTranspose2d', 'weight', w!, [4], '[inChannels, outChannels / groups, kH, kW]');
    checkFloat('convTranspose2d', 'input', x!);
    if (w!.dtype !== x!.dtype) throw new DTypeError(`convTranspose2d: weight dtype ${w!.dtype} must match input dtype ${x!.dtype}`);
    if (w!.shape[0] !== x!.shape[1]) {
      throw new ShapeError(`convTranspose2d: input ${fmt(x!.shape)} has ${x!.shape[1]} channels but weight ${fmt(w!.shape)} expects ${w!.shape[0]} (weight is [inChannels, outChannels / groups, kH, kW])`);
    }
    if (x!.shape[1]! % a.groups !== 0) throw new ShapeError(`convTranspose2d: input ${fmt(x!.shape)} has ${x!.shape[1]} channels, not divisible by groups=${a.groups}`);
    return [{ shape: a.shape!, dtype: x!.dtype }];
  },
});
registerGradient<Conv2dAttrs>('convTranspose2d', {
  saveInputs: [0, 1],
  backward: (c, [g]) => {
    const [x, w] = [c.inputs[0]!, c.inputs[1]!];
    const { stride, padding, dilation, groups } = c.attrs;
    let dx: Tensor | null = null;
    if (c.needsGrad[0]) {
      dx = run('conv2d', [g!, w], { stride, padding, dilation, groups });
      // an outputPadding of at least the stride (allowed below the dilation) adds rows no input row reaches
      const [h, wd] = c.inputShapes[0]!.slice(2) as [number, number];
      if (dx.shape[2] !== h || dx.shape[3] !== wd) dx = narrow(narrow(dx, 2, 0, h), 3, 0, wd);
    }
    return [dx, c.needsGrad[1] ? run('conv2dWeightGrad', [g!, x], { stride, padding, dilation, groups, shape: c.inputShapes[1] }) : null];
  },
});

/**
 * Transposed 2-D convolution (torch.nn.functional.conv_transpose2d, sometimes called
 * deconvolution): the gradient of {@link conv2d} with respect to its input, so it maps conv2d's
 * output shape back to its input shape. input [N, inChannels, H, W] (or unbatched [C, H, W]),
 * weight [inChannels, outChannels / groups, kH, kW] (PyTorch's layout, so state dicts load),
 * optional bias [outChannels]; the output is [N, outChannels, outH, outW] with
 * outH = (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1. Wrong ranks or
 * channel counts, or an empty output, throw a ShapeError; bad options a ValueError.
 */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('convTranspose2d', [input, weight, bias], ([x, w, b]) => convTranspose2d(x, w, b, options));
  checkRank('convTranspose2d', 'input', input, [3, 4], '[N, C, H, W] or unbatched [C, H, W]');
  checkRank('convTranspose2d', 'weight', weight, [4], '[inChannels, outChannels / groups, kH, kW]');
  const stride = pair('convTranspose2d', 'stride', options.stride ?? 1, 1);
  const padding = pair('convTranspose2d', 'padding', options.padding ?? 0, 0);
  const outputPadding = pair('convTranspose2d', 'outputPadding', options.outputPadding ?? 0, 0);
  const dilation = pair('convTranspose2d', 'dilation', options.dilation ?? 1, 1);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ValueError(`convTranspose2d: groups must be a positive integer; got ${groups}`);
  for (const i of [0, 1]) {
    if (outputPadding[i]! >= stride[i]! && outputPadding[i]! >= dilation[i]!) {
      throw new ValueError(`convTranspose2d: outputPadding ${fmt(outputPadding)} must be smaller than either stride ${fmt(stride)} or dilation ${fmt(dilation)}`);
    }
  }
  const [h, w] = input.shape.slice(-2) as [number, number];
  const out = [0, 1].map((i) => ([h, w][i]! - 1) * stride[i]! - 2 * padding[i]! + dilation[i]! * (weight.shape[2 + i]! - 1) + outputPadding[i]! + 1);
  if (out[0]! < 1 || out[1]! < 1) {
    throw new ShapeError(`convTranspose2d: input ${fmt(input.shape)} with kernel ${fmt(weight.shape.slice(2))}, stride ${fmt(stride)}, padding ${fmt(padding)} and dilation ${fmt(dilation)} gives an empty output ${fmt(out)}`);
  }
  const cout = weight.shape[1]! * groups;
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== cout || bias.dtype !== input.dtype)) {
    throw new ShapeError(`convTranspose2d: bias must be a ${input.dtype} tensor of shape [${cout}] (outChannels); got ${bias.dtype} ${fmt(bias.shape)}`);
  }
  return tidy(() => {
    const x = input.ndim === 4 ? input : unsqueeze(input, 0);
    let y = run('convTranspose2d', [x, weight], { stride, padding, dilation, groups, shape: [x.shape[0]!, cout, out[0]!, out[1]!] });
    if (bias) y = add(y, reshape(bias, [-1, 1, 1]));
    return input.ndim === 4 ? y : squeeze(y, 0);
  });
}

/**
 * The outputPadding that makes {@link convTranspose2d} give spatial size `size` ([outH, outW]),
 * as PyTorch's `output_size` argument; a size outside the range the options allow throws a
 * ValueError naming that range.
 */
export function convTranspose2dOutputPadding(inputShape: Shape, kernelSize: [number, number], size: readonly number[], options: ConvTranspose2dOptions = {}): [number, number] {
  const stride = pair('convTranspose2d', 'stride', options.stride ?? 1, 1);
  const padding = pair('convTranspose2d', 'padding', options.padding ?? 0, 0);
  const dilation = pair('convTranspose2d', 'dilation', options.dilation ?? 1, 1);
  const hw = size.slice(-2);
  if (hw.length !== 2 || !hw.every((d) => Number.isInteger(d))) throw new ValueError(`convTranspose2d: outputSize must end in two integers [outH, outW]; got ${JSON.stringify(size)}`);
  const inHW = inputShape.slice(-2);
  const min = [0, 1].map((i) => (inHW[i]! - 1) * stride[i]! - 2 * padding[i]! + dilation[i]! * (kernelSize[i]! - 1) + 1);
  const max = min.map((m, i) => m + stride[i]! - 1);
  if (hw.some((d, i) => d! < min[i]! || d! > max[i]!)) {
    throw new ValueError(`convTranspose2d: requested an output size of ${fmt(hw)}, but valid sizes range from ${fmt(min)} to ${fmt(max)} (for an input of ${fmt(inHW)})`);
  }
  return [hw[0]! - min[0]!, hw[1]! - min[1]!];
}
