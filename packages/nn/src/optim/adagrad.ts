import { add, div, fullLike, keep, mul, neg, sqrt, type Tensor } from '@tapegrad/tensor';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link Adagrad}, as torch.optim.Adagrad's: defaults lr 1e-2, lrDecay 0,
 * weightDecay 0, initialAccumulatorValue 0, eps 1e-10, maximize false. Negative values throw a
 * ValueError at construction.
 */
export interface AdagradOptions {
  /** Learning rate. */
  lr?: number;
  /** The rate at step t is lr / (1 + (t − 1)·lrDecay). */
  lrDecay?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** What the running sum of squared gradients starts at. */
  initialAccumulatorValue?: number;
  /** Added to the denominator for numerical stability. */
  eps?: number;
  /** Ascend rather than descend. */
  maximize?: boolean;
}
type H = Required<AdagradOptions>;

/**
 * Adagrad (Duchi et al.): each element's step is divided by the root of the sum of its squared
 * gradients so far (torch.optim.Adagrad). State per parameter: `step` and `sum`.
 */
export class Adagrad extends Optimizer<H> {
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: AdagradOptions = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    checkHyper('Adagrad', 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adagrad', 'lrDecay', g.lrDecay, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adagrad', 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adagrad', 'initialAccumulatorValue', g.initialAccumulatorValue, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adagrad', 'eps', g.eps, (v) => v >= 0, 'a number >= 0');
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): void {
    if (state.step === undefined) {
      state.step = 0;
      state.sum = keep(fullLike(p, g.initialAccumulatorValue));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    let d = g.maximize ? neg(grad) : grad;
    if (g.weightDecay !== 0) d = add(d, mul(p, g.weightDecay));
    const sum = (state.sum as Tensor).add_(mul(d, d));
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    p.sub_(div(mul(d, clr), add(sqrt(sum), g.eps)));
  }
}
