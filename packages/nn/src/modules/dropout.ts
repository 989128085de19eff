import { ValueError, type Generator, type Tensor } from '@tapegrad/tensor';
import { dropout } from '../ops/dropout.js';
import { Module } from './module.js';

/**
 * Zero elements with probability p and scale the rest by 1 / (1 − p) in training mode; the
 * identity in eval mode (torch.nn.Dropout); see {@link dropout}.
 */
export class Dropout extends Module {
  /**
   * @param p - Probability of zeroing an element, in [0, 1] (default 0.5; else a ValueError).
   * @param options - The generator the masks are drawn from (default: the global one).
   */
  constructor(readonly p = 0.5, readonly options: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`Dropout: p must be a probability in [0, 1]; got ${p}`);
  }
  forward(x: Tensor): Tensor {
    this.guardFields(); // the mode decides the kernels
    return dropout(x, { p: this.p, training: this.training, generator: this.options.generator });
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}
