import type { Tensor } from '@tapegrad/tensor';
import { avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from '../ops/pool.js';
import { Module } from './module.js';

export class MaxPool2d extends Module {
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
export class AvgPool2d extends Module {
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
