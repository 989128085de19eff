import { ValueError, zeros, type DType, type Device, type Tensor } from '@tapegrad/tensor';
import { linear } from '../ops/linear.js';
import { kaimingUniform, uniform } from '../init.js';
import { Module, parameter } from './module.js';

/** Where a layer creates its parameters: dtype (default float32) and device (default: the default device). */
export interface FactoryOptions {
  /** The parameters' dtype (default float32). */
  dtype?: DType;
  /** The parameters' device (default: the default device). */
  device?: Device;
}

/**
 * Return `v` if it is a positive integer, else throw a ValueError naming the layer and argument
 * (`Linear: inFeatures must be a positive integer; got 0`): how the built-in layers check their
 * sizes, for your own modules to do the same.
 */
export function checkSize(cls: string, arg: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ValueError(`${cls}: ${arg} must be a positive integer; got ${v}`);
  return v;
}

/**
 * y = x·Wᵀ + b. PyTorch's initialisation: W and b from U(−1/√in, 1/√in) (kaiming_uniform with
 * a = √5, which comes to the same bound).
 */
export class Linear extends Module {
  /** The learned weight W, shape [outFeatures, inFeatures]. */
  weight: Tensor;
  /** The learned bias b, shape [outFeatures]; null when built with `bias: false`. */
  bias: Tensor | null;
  /**
   * @param inFeatures - Size of each input's last dim (a positive integer, else a ValueError).
   * @param outFeatures - Size of each output's last dim (a positive integer, else a ValueError).
   * @param options - dtype and device of the parameters; `bias: false` for no bias.
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: FactoryOptions & { bias?: boolean } = {}) {
    super();
    checkSize('Linear', 'inFeatures', inFeatures);
    checkSize('Linear', 'outFeatures', outFeatures);
    const o = { dtype: options.dtype, device: options.device };
    this.weight = parameter(kaimingUniform(zeros([outFeatures, inFeatures], o), { a: Math.sqrt(5) }));
    const bound = 1 / Math.sqrt(inFeatures);
    this.bias = options.bias === false ? null : parameter(uniform(zeros([outFeatures], o), -bound, bound));
  }
  /** x [..., inFeatures] to [..., outFeatures]; see {@link linear}. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
