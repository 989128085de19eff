import { ValueError, zeros, type Tensor } from '@tapegrad/tensor';
import {
  conv1d, conv2d, convTranspose2d, convTranspose2dOutputPadding, type Conv1dOptions, type Conv2dOptions, type ConvTranspose2dOptions,
} from '../ops/conv.js';
import { pair } from '../ops/util.js';
import { calculateFanInAndFanOut, kaimingUniform, uniform } from '../init.js';
import { Module, parameter } from './module.js';
import { checkSize, type FactoryOptions } from './linear.js';

/** 2-D convolution with a learned [out, in / groups, kH, kW] kernel and bias, initialised as PyTorch's. */
export class Conv2d extends Module {
  /** The learned kernel, shape [outChannels, inChannels / groups, kH, kW]. */
  weight: Tensor;
  /** The learned bias, shape [outChannels]; null when built with `bias: false`. */
  bias: Tensor | null;
  /** [kH, kW]. */
  readonly kernelSize: [number, number];
  /** stride, padding, dilation and groups, passed to {@link conv2d}. */
  readonly options: Conv2dOptions;
  /**
   * @param inChannels - Channels of the input, dim 1 (a positive integer, else a ValueError).
   * @param outChannels - Channels of the output (a positive integer, else a ValueError).
   * @param kernelSize - The window, [kH, kW] or one number for both.
   * @param options - stride, padding, dilation and groups (which must divide both channel counts,
   * else a ValueError) as {@link conv2d}; dtype and device of the parameters; `bias: false` for no bias.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dOptions & FactoryOptions & { bias?: boolean } = {},
  ) {
    super();
    checkSize('Conv2d', 'inChannels', inChannels);
    checkSize('Conv2d', 'outChannels', outChannels);
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups || outChannels % groups) {
      throw new ValueError(`Conv2d: groups=${groups} must be a positive integer dividing inChannels=${inChannels} and outChannels=${outChannels}`);
    }
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1);
    const { stride, padding, dilation } = options;
    this.options = { stride, padding, dilation, groups };
    const o = { dtype: options.dtype, device: options.device };
    this.weight = parameter(kaimingUniform(zeros([outChannels, inChannels / groups, ...this.kernelSize], o), { a: Math.sqrt(5) }));
    const bound = 1 / Math.sqrt(calculateFanInAndFanOut(this.weight).fanIn);
    this.bias = options.bias === false ? null : parameter(uniform(zeros([outChannels], o), -bound, bound));
  }
  /** [N, inChannels, H, W] (or [inChannels, H, W]) to [N, outChannels, outH, outW]; see {@link conv2d}. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
  protected override extraRepr(): string {
    const o = Object.entries(this.options).filter(([, v]) => v !== undefined).map(([k, v]) => `, ${k}=${JSON.stringify(v)}`).join('');
    return `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]${o}`;
  }
}

// ---- issue 16: Conv1d and ConvTranspose2d ------------------------------------------------------

// A convolution's weight and bias, initialised as PyTorch's _ConvNd: kaiming_uniform(a = √5) and
// U(−1/√fanIn, 1/√fanIn), fanIn from weight.shape[1] and the kernel.
function convParameters(shape: number[], bias: boolean | undefined, channels: number, { dtype, device }: FactoryOptions): [Tensor, Tensor | null] {
  const o = { dtype, device };
  const weight = parameter(kaimingUniform(zeros(shape, o), { a: Math.sqrt(5) }));
  const bound = 1 / Math.sqrt(calculateFanInAndFanOut(weight).fanIn);
  return [weight, bias === false ? null : parameter(uniform(zeros([channels], o), -bound, bound))];
}
function checkGroups(cls: string, groups: number | undefined, inChannels: number, outChannels: number): number {
  const g = groups ?? 1;
  if (!Number.isInteger(g) || g < 1 || inChannels % g || outChannels % g) {
    throw new ValueError(`${cls}: groups=${g} must be a positive integer dividing inChannels=${inChannels} and outChannels=${outChannels}`);
  }
  return g;
}

/** 1-D convolution with a learned [out, in / groups, k] kernel and bias, initialised as PyTorch's (torch.nn.Conv1d); see {@link conv1d}. */
export class Conv1d extends Module {
  /** The learned kernel, shape [outChannels, inChannels / groups, kernelSize]. */
  weight: Tensor;
  /** The learned bias, shape [outChannels]; null when built with `bias: false`. */
  bias: Tensor | null;
  /** stride, padding, dilation and groups, passed to {@link conv1d}. */
  readonly options: Conv1dOptions;
  /**
   * @param inChannels - Channels of the input, dim 1 (a positive integer, else a ValueError).
   * @param outChannels - Channels of the output (a positive integer, else a ValueError).
   * @param kernelSize - The window's length (a positive integer, else a ValueError).
   * @param options - stride, padding, dilation and groups as {@link conv1d}; dtype and device of
   * the parameters; `bias: false` for no bias.
   */
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, options: Conv1dOptions & FactoryOptions & { bias?: boolean } = {}) {
    super();
    checkSize('Conv1d', 'inChannels', inChannels);
    checkSize('Conv1d', 'outChannels', outChannels);
    checkSize('Conv1d', 'kernelSize', kernelSize);
    const groups = checkGroups('Conv1d', options.groups, inChannels, outChannels);
    const { stride, padding, dilation } = options;
    this.options = { stride, padding, dilation, groups };
    [this.weight, this.bias] = convParameters([outChannels, inChannels / groups, kernelSize], options.bias, outChannels, options);
  }
  /** [N, inChannels, L] (or [inChannels, L]) to [N, outChannels, outL]; see {@link conv1d}. */
  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, this.options);
  }
  protected override extraRepr(): string {
    const o = Object.entries(this.options).filter(([, v]) => v !== undefined).map(([k, v]) => `, ${k}=${JSON.stringify(v)}`).join('');
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}${o}`;
  }
}

/**
 * Transposed 2-D convolution with a learned [in, out / groups, kH, kW] kernel (PyTorch's layout,
 * so its state dicts load) and bias, initialised as PyTorch's (torch.nn.ConvTranspose2d); see
 * {@link convTranspose2d}. It upsamples: stride 2 doubles the size (with kernel 2, or kernel 4
 * and padding 1).
 */
export class ConvTranspose2d extends Module {
  /** The learned kernel, shape [inChannels, outChannels / groups, kH, kW]. */
  weight: Tensor;
  /** The learned bias, shape [outChannels]; null when built with `bias: false`. */
  bias: Tensor | null;
  /** [kH, kW]. */
  readonly kernelSize: [number, number];
  /** stride, padding, outputPadding, groups and dilation, passed to {@link convTranspose2d}. */
  readonly options: ConvTranspose2dOptions;
  /**
   * @param inChannels - Channels of the input, dim 1 (a positive integer, else a ValueError).
   * @param outChannels - Channels of the output (a positive integer, else a ValueError).
   * @param kernelSize - The window, [kH, kW] or one number for both.
   * @param options - stride, padding, outputPadding, groups (which must divide both channel
   * counts) and dilation as {@link convTranspose2d}; dtype and device of the parameters;
   * `bias: false` for no bias.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    options: ConvTranspose2dOptions & FactoryOptions & { bias?: boolean } = {},
  ) {
    super();
    checkSize('ConvTranspose2d', 'inChannels', inChannels);
    checkSize('ConvTranspose2d', 'outChannels', outChannels);
    const groups = checkGroups('ConvTranspose2d', options.groups, inChannels, outChannels);
    this.kernelSize = pair('ConvTranspose2d', 'kernelSize', kernelSize, 1);
    const { stride, padding, outputPadding, dilation } = options;
    this.options = { stride, padding, outputPadding, groups, dilation };
    [this.weight, this.bias] = convParameters([inChannels, outChannels / groups, ...this.kernelSize], options.bias, outChannels, options);
  }
  /**
   * [N, inChannels, H, W] (or [inChannels, H, W]) to [N, outChannels, outH, outW]; see
   * {@link convTranspose2d}. `outputSize` ([..., outH, outW]) picks the outputPadding that gives
   * that size, as PyTorch's `output_size`, where stride > 1 leaves several sizes possible.
   */
  forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    const options = outputSize === undefined ? this.options : { ...this.options, outputPadding: convTranspose2dOutputPadding(x.shape, this.kernelSize, outputSize, this.options) };
    return convTranspose2d(x, this.weight, this.bias, options);
  }
  protected override extraRepr(): string {
    const o = Object.entries(this.options).filter(([, v]) => v !== undefined).map(([k, v]) => `, ${k}=${JSON.stringify(v)}`).join('');
    return `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]${o}`;
  }
}
