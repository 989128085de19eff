import { flatten, type Tensor } from '@tapegrad/tensor';
import { Module } from './module.js';

/** Modules applied in order; they are its children '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }
  get length(): number {
    return this.children().length;
  }
  /** The i-th module (negative i counts from the end). */
  at(i: number): Module | undefined {
    return this.children().at(i);
  }
  /** Feed `x` through each module in turn. */
  forward(x: Tensor): Tensor {
    for (const m of this.children()) x = m.forward(x);
    return x;
  }
}

/** Flatten dims startDim..endDim into one (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
