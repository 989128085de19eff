import { logSoftmax, relu, sigmoid, softmax, tanh, type Tensor } from '@tapegrad/tensor';
import { gelu } from '../ops/activation.js';
import { Module } from './module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}
export class Softmax extends Module {
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
export class LogSoftmax extends Module {
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
