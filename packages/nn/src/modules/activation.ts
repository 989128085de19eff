import { logSoftmax, relu, sigmoid, softmax, tanh, type Tensor } from '@tapegrad/tensor';
import { gelu } from '../ops/activation.js';
import { Module } from './module.js';

/** max(x, 0) elementwise (torch.nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}
/** x·Φ(x) elementwise, or its tanh approximation with `approximate = 'tanh'` (torch.nn.GELU); see {@link gelu}. */
export class GELU extends Module {
  /** @param approximate - 'none' (the default) for the exact erf form, 'tanh' for the approximation. */
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}
/** tanh(x) elementwise (torch.nn.Tanh). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
/** 1 / (1 + exp(−x)) elementwise (torch.nn.Sigmoid). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}
/** softmax along `dim` (torch.nn.Softmax; `dim` is required). */
export class Softmax extends Module {
  /** @param dim - The dim the outputs sum to 1 along (negative counts from the end). */
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
/** log(softmax(x)) along `dim`, computed stably (torch.nn.LogSoftmax; `dim` is required). */
export class LogSoftmax extends Module {
  /** @param dim - The dim to normalise along (negative counts from the end). */
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
