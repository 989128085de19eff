import { flatten, type Tensor } from '@tapegrad/tensor';
import { Module } from './module.js';

/** Modules applied in order; they are its children '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  /** @param modules - The modules, in the order they are applied. */
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }
  /** The number of modules. */
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

/** Flatten dims startDim..endDim into one (default: all but the batch dim), as torch.nn.Flatten. */
export class Flatten extends Module {
  /**
   * @param startDim - First dim to flatten (default 1; negative counts from the end).
   * @param endDim - Last dim to flatten, inclusive (default -1).
   */
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  /** x with dims startDim..endDim merged into one. */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
