import type { Tensor } from '@tapegrad/tensor';
import { avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from '../ops/pool.js';
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
