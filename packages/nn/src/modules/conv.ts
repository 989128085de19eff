import { ValueError, zeros, type Tensor } from '@tapegrad/tensor';
import { conv2d, type Conv2dOptions } from '../ops/conv.js';
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
