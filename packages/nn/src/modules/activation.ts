import { logSoftmax, relu, sigmoid, softmax, tanh, type Tensor } from '@tapegrad/tensor';
import { elu, gelu, hardswish, leakyRelu, mish, silu, softplus, type SoftplusOptions } from '../ops/activation.js';
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

// ---- issue 16 ---------------------------------------------------------------------------------
/** Returns its input unchanged (torch.nn.Identity): a placeholder where a layer is optional. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
/** SiLU (swish), x·σ(x) elementwise (torch.nn.SiLU); see {@link silu}. */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}
/** x where x > 0, else negativeSlope·x (torch.nn.LeakyReLU); see {@link leakyRelu}. */
export class LeakyReLU extends Module {
  /** @param negativeSlope - The slope for x < 0 (default 0.01). */
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  protected override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}
/** x where x > 0, else alpha·(eˣ − 1) (torch.nn.ELU); see {@link elu}. */
export class ELU extends Module {
  /** @param alpha - The value approached as x → −∞ is −alpha (default 1). */
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  protected override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}
/** log(1 + e^(beta·x)) / beta, and x where beta·x > threshold (torch.nn.Softplus); see {@link softplus}. */
export class Softplus extends Module {
  /** @param options - beta (default 1) and threshold (default 20). */
  constructor(readonly options: SoftplusOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.options);
  }
  protected override extraRepr(): string {
    return `beta=${this.options.beta ?? 1}, threshold=${this.options.threshold ?? 20}`;
  }
}
/** Mish, x·tanh(softplus(x)) elementwise (torch.nn.Mish); see {@link mish}. */
export class Mish extends Module {
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}
/** Hardswish, x·min(max(x + 3, 0), 6) / 6 elementwise (torch.nn.Hardswish); see {@link hardswish}. */
export class Hardswish extends Module {
  forward(x: Tensor): Tensor {
    return hardswish(x);
  }
}
