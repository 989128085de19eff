import type { Tensor } from '@tapegrad/tensor';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type AdaptiveSize, type AvgPool2dOptions, type MaxPool2dOptions } from '../ops/pool.js';
import { interpolate, type InterpolateOptions } from '../ops/upsample.js';
import { Module } from './module.js';

/** Max pooling over kernelSize windows of [N, C, H, W] or [C, H, W] (torch.nn.MaxPool2d); see {@link maxPool2d}. */
export class MaxPool2d extends Module {
  /**
   * @param kernelSize - The window, [kH, kW] or one number for both.
   * @param options - stride (default kernelSize), padding, dilation and ceilMode, as {@link maxPool2d}.
   */
  constructor(readonly kernelSize: number | [number, number], readonly options: MaxPool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}
/** Average pooling over kernelSize windows of [N, C, H, W] or [C, H, W] (torch.nn.AvgPool2d); see {@link avgPool2d}. */
export class AvgPool2d extends Module {
  /**
   * @param kernelSize - The window, [kH, kW] or one number for both.
   * @param options - stride (default kernelSize), padding, ceilMode, countIncludePad and
   * divisorOverride, as {@link avgPool2d}.
   */
  constructor(readonly kernelSize: number | [number, number], readonly options: AvgPool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}`;
  }
}

// ---- issue 16 ---------------------------------------------------------------------------------
/** Average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d); see {@link adaptiveAvgPool2d}. */
export class AdaptiveAvgPool2d extends Module {
  /** @param outputSize - [outH, outW] (null keeps the input's size), or one number for both. */
  constructor(readonly outputSize: AdaptiveSize) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  protected override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}
/**
 * Resize the spatial dims (torch.nn.Upsample): nearest neighbour, or linear / bilinear
 * interpolation, to a `size` or by a `scaleFactor`; see {@link interpolate}.
 */
export class Upsample extends Module {
  /** @param options - size or scaleFactor, mode (default 'nearest') and alignCorners, as {@link interpolate}. */
  constructor(readonly options: InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return interpolate(x, this.options);
  }
  protected override extraRepr(): string {
    return Object.entries(this.options).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
  }
}
