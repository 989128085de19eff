import { add, div, guardValue, keep, maximum, mul, neg, sqrt, zerosLike, type Tensor } from '@tapegrad/tensor';
import { canFuse, type FusedUpdate } from './fused.js';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link Adam} and {@link AdamW}, as torch.optim.Adam's: defaults lr 1e-3,
 * betas [0.9, 0.999], eps 1e-8, weightDecay 0 (AdamW: 0.01), amsgrad and maximize false. Invalid
 * values throw a ValueError at construction.
 */
export interface AdamOptions {
  /** Learning rate. */
  lr?: number;
  /** Decay rates of the running averages of the gradient and its square, each in [0, 1). */
  betas?: [number, number];
  /** Added to the denominator for numerical stability. */
  eps?: number;
  /** Adam: an L2 penalty added to the gradient; AdamW: decoupled, the parameter shrinks by lr·weightDecay each step. */
  weightDecay?: number;
  /** Normalise by the running maximum of the squared-gradient average (AMSGrad). */
  amsgrad?: boolean;
  /** Ascend rather than descend. */
  maximize?: boolean;
  /** Use the one-pass fused kernel where the device has it and the tensors are contiguous (default true). */
  fused?: boolean;
}
type H = Required<AdamOptions>;

function validate(cls: string, g: ParamGroup<H>): void {
  checkHyper(cls, 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
  checkHyper(cls, 'eps', g.eps, (v) => v >= 0, 'a number >= 0');
  checkHyper(cls, 'betas[0]', g.betas[0], (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkHyper(cls, 'betas[1]', g.betas[1], (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkHyper(cls, 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
}

/** The shared Adam update; `decoupled` applies weight decay to the weights directly (AdamW). */
function adamStep(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState, decoupled: boolean): FusedUpdate | undefined {
  const [b1, b2] = g.betas;
  if (state.step === undefined) {
    state.step = 0;
    state.expAvg = keep(zerosLike(p));
    state.expAvgSq = keep(zerosLike(p));
    if (g.amsgrad) state.maxExpAvgSq = keep(zerosLike(p));
  }
  const tensors = [p, grad, state.expAvg as Tensor, state.expAvgSq as Tensor, ...(g.amsgrad ? [state.maxExpAvgSq as Tensor] : [])];
  if (g.fused && canFuse('adamStep', tensors)) {
    return {
      op: 'adamStep',
      tensors,
      attrs: () => {
        state.step = (state.step as number) + 1; // each replay of a compiled step counts too
        const { lr, eps, weightDecay, amsgrad, maximize } = g;
        return { lr, beta1: g.betas[0], beta2: g.betas[1], eps, weightDecay, decoupled, amsgrad, maximize, step: state.step };
      },
    };
  }
  guardValue(() => [g.lr, g.betas, g.eps, g.weightDecay, g.maximize, state.step], 'Adam\'s hyperparameters and step count (numbers in its unfused update)');
  const step = (state.step as number) + 1;
  state.step = step;
  let d = g.maximize ? neg(grad) : grad;
  if (g.weightDecay !== 0) {
    if (decoupled) p.mul_(1 - g.lr * g.weightDecay);
    else d = add(d, mul(p, g.weightDecay));
  }
  const m = state.expAvg as Tensor;
  const v = state.expAvgSq as Tensor;
  m.mul_(b1).add_(mul(d, 1 - b1));
  v.mul_(b2).add_(mul(mul(d, d), 1 - b2));
  const stepSize = g.lr / (1 - b1 ** step);
  const c2 = Math.sqrt(1 - b2 ** step);
  let second = v;
  if (g.amsgrad) second = (state.maxExpAvgSq as Tensor).copy_(maximum(state.maxExpAvgSq as Tensor, v));
  const denom = add(div(sqrt(second), c2), g.eps);
  p.sub_(mul(div(m, denom), stepSize));
  return undefined;
}

/** Adam (Kingma & Ba), with L2 weight decay added to the gradient and optional AMSGrad (torch.optim.Adam). */
export class Adam extends Optimizer<H> {
  protected override traceKey(g: ParamGroup<H>): unknown[] {
    return [g.fused, g.amsgrad]; // the kernels and their inputs; the unfused path guards its numbers
  }
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, fused: true, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    validate('Adam', g);
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): FusedUpdate | undefined {
    return adamStep(p, grad, g, state, false);
  }
}

/** Adam with decoupled weight decay, default 0.01 (Loshchilov & Hutter; torch.optim.AdamW). */
export class AdamW extends Optimizer<H> {
  protected override traceKey(g: ParamGroup<H>): unknown[] {
    return [g.fused, g.amsgrad];
  }
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group (weightDecay 0.01 unless given).
   */
  constructor(params: Params<H>, options: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, fused: true, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    validate('AdamW', g);
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): FusedUpdate | undefined {
    return adamStep(p, grad, g, state, true);
  }
}
