import { add, div, keep, mul, sqrt, zerosLike, type Tensor } from '@tapegrad/tensor';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link NAdam}, as torch.optim.NAdam's (1.13): defaults lr 2e-3, betas
 * [0.9, 0.999], eps 1e-8, weightDecay 0, momentumDecay 4e-3. Invalid values throw a ValueError
 * at construction.
 */
export interface NAdamOptions {
  /** Learning rate. */
  lr?: number;
  /** Decay rates of the running averages of the gradient and its square, each in [0, 1). */
  betas?: [number, number];
  /** Added to the denominator for numerical stability. */
  eps?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** ψ in the momentum schedule μ_t = β1·(1 − 0.5·0.96^(t·ψ)). */
  momentumDecay?: number;
}
type H = Required<NAdamOptions>;

/**
 * Adam with Nesterov momentum (Dozat), as torch.optim.NAdam of PyTorch 1.13, whose
 * bias correction of the look-ahead term divides by 1 − (μ_1···μ_t)·μ_t·μ_{t+1}; PyTorch 2.0
 * changed it to 1 − (μ_1···μ_t)·μ_{t+1}; the two differ mostly in the first steps. State per
 * parameter: `step`, `muProduct` (the product of the μ so far), `expAvg`, `expAvgSq`.
 */
export class NAdam extends Optimizer<H> {
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: NAdamOptions = {}) {
    super(params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    checkHyper('NAdam', 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
    checkHyper('NAdam', 'eps', g.eps, (v) => v >= 0, 'a number >= 0');
    checkHyper('NAdam', 'betas[0]', g.betas[0], (v) => v >= 0 && v < 1, 'in [0, 1)');
    checkHyper('NAdam', 'betas[1]', g.betas[1], (v) => v >= 0 && v < 1, 'in [0, 1)');
    checkHyper('NAdam', 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
    checkHyper('NAdam', 'momentumDecay', g.momentumDecay, (v) => v >= 0, 'a number >= 0');
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): void {
    const [b1, b2] = g.betas;
    if (state.step === undefined) {
      state.step = 0;
      state.muProduct = 1;
      state.expAvg = keep(zerosLike(p));
      state.expAvgSq = keep(zerosLike(p));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const d = g.weightDecay !== 0 ? add(grad, mul(p, g.weightDecay)) : grad;
    const mu = b1 * (1 - 0.5 * 0.96 ** (step * g.momentumDecay));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((step + 1) * g.momentumDecay));
    const muProduct = (state.muProduct as number) * mu;
    state.muProduct = muProduct;
    const m = (state.expAvg as Tensor).mul_(b1).add_(mul(d, 1 - b1));
    const v = (state.expAvgSq as Tensor).mul_(b2).add_(mul(mul(d, d), 1 - b2));
    const denom = add(sqrt(div(v, 1 - b2 ** step)), g.eps);
    p.sub_(div(mul(d, (g.lr * (1 - mu)) / (1 - muProduct)), denom));
    p.sub_(div(mul(m, (g.lr * muNext) / (1 - muProduct * mu * muNext)), denom));
  }
}
