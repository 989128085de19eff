import { abs, add, div, keep, maximum, mul, neg, zerosLike, type Tensor } from '@tapegrad/tensor';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link Adamax}, as torch.optim.Adamax's: defaults lr 2e-3, betas
 * [0.9, 0.999], eps 1e-8, weightDecay 0, maximize false. Invalid values throw a ValueError at
 * construction.
 */
export interface AdamaxOptions {
  /** Learning rate. */
  lr?: number;
  /** Decay rates of the running average of the gradient and of the running maximum of its size, each in [0, 1). */
  betas?: [number, number];
  /** Added to each |gradient| before it enters the running maximum. */
  eps?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** Ascend rather than descend. */
  maximize?: boolean;
}
type H = Required<AdamaxOptions>;

/**
 * Adamax (Kingma & Ba, section 7): Adam with the second moment replaced by an exponentially
 * weighted infinity norm (torch.optim.Adamax). State per parameter: `step`, `expAvg`, `expInf`.
 */
export class Adamax extends Optimizer<H> {
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: AdamaxOptions = {}) {
    super(params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    checkHyper('Adamax', 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adamax', 'eps', g.eps, (v) => v >= 0, 'a number >= 0');
    checkHyper('Adamax', 'betas[0]', g.betas[0], (v) => v >= 0 && v < 1, 'in [0, 1)');
    checkHyper('Adamax', 'betas[1]', g.betas[1], (v) => v >= 0 && v < 1, 'in [0, 1)');
    checkHyper('Adamax', 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): void {
    const [b1, b2] = g.betas;
    if (state.step === undefined) {
      state.step = 0;
      state.expAvg = keep(zerosLike(p));
      state.expInf = keep(zerosLike(p));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    let d = g.maximize ? neg(grad) : grad;
    if (g.weightDecay !== 0) d = add(d, mul(p, g.weightDecay));
    const m = (state.expAvg as Tensor).mul_(b1).add_(mul(d, 1 - b1));
    const u = state.expInf as Tensor;
    u.copy_(maximum(u.mul_(b2), add(abs(d), g.eps)));
    p.sub_(mul(div(m, u), g.lr / (1 - b1 ** step)));
  }
}
