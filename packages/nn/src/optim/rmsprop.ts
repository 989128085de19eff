import { add, div, keep, mul, neg, sqrt, sub, zerosLike, type Tensor } from '@tapegrad/tensor';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link RMSprop}, as torch.optim.RMSprop's: defaults lr 1e-2, alpha 0.99,
 * eps 1e-8, weightDecay 0, momentum 0, centered and maximize false. Negative values throw a
 * ValueError at construction.
 */
export interface RMSpropOptions {
  /** Learning rate. */
  lr?: number;
  /** Decay rate of the running average of the squared gradient. */
  alpha?: number;
  /** Added to the denominator for numerical stability. */
  eps?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** Momentum factor applied to the normalised step. */
  momentum?: number;
  /** Normalise by √(E[g²] − E[g]²), the gradient's estimated standard deviation, rather than √E[g²]. */
  centered?: boolean;
  /** Ascend rather than descend. */
  maximize?: boolean;
}
type H = Required<RMSpropOptions>;

/** RMSprop (Hinton), optionally centered and with momentum (torch.optim.RMSprop). */
export class RMSprop extends Optimizer<H> {
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: RMSpropOptions = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    checkHyper('RMSprop', 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
    checkHyper('RMSprop', 'alpha', g.alpha, (v) => v >= 0, 'a number >= 0');
    checkHyper('RMSprop', 'eps', g.eps, (v) => v >= 0, 'a number >= 0');
    checkHyper('RMSprop', 'momentum', g.momentum, (v) => v >= 0, 'a number >= 0');
    checkHyper('RMSprop', 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): void {
    let d = g.maximize ? neg(grad) : grad;
    if (g.weightDecay !== 0) d = add(d, mul(p, g.weightDecay));
    if (state.step === undefined) {
      state.step = 0;
      state.squareAvg = keep(zerosLike(p));
      if (g.momentum > 0) state.momentumBuffer = keep(zerosLike(p));
      if (g.centered) state.gradAvg = keep(zerosLike(p));
    }
    state.step = (state.step as number) + 1;
    const sq = (state.squareAvg as Tensor).mul_(g.alpha).add_(mul(mul(d, d), 1 - g.alpha));
    let avg: Tensor;
    if (g.centered) {
      const ga = (state.gradAvg as Tensor).mul_(g.alpha).add_(mul(d, 1 - g.alpha));
      avg = add(sqrt(sub(sq, mul(ga, ga))), g.eps);
    } else avg = add(sqrt(sq), g.eps);
    if (g.momentum > 0) {
      const buf = (state.momentumBuffer as Tensor).mul_(g.momentum).add_(div(d, avg));
      p.sub_(mul(buf, g.lr));
    } else p.sub_(mul(div(d, avg), g.lr));
  }
}
