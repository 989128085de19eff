import { add, guardValue, keep, mul, neg, zerosLike, type Tensor } from '@tapegrad/tensor';
import { canFuse, type FusedUpdate } from './fused.js';
import { Optimizer, checkHyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/**
 * Hyperparameters of {@link SGD}, as torch.optim.SGD's: lr defaults to 1e-3 (PyTorch has no
 * default), the other numbers to 0 and the flags to false. Negative lr, momentum or weightDecay,
 * and nesterov without momentum > 0 and dampening 0, throw a ValueError at construction.
 */
export interface SGDOptions {
  /** Learning rate. */
  lr?: number;
  /** Momentum factor: the update follows a running sum of gradients decayed by this. */
  momentum?: number;
  /** How much of each new gradient the momentum buffer leaves out (its weight is 1 − dampening). */
  dampening?: number;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
  /** Nesterov momentum: step along the gradient plus momentum times the buffer. */
  nesterov?: boolean;
  /** Ascend rather than descend. */
  maximize?: boolean;
  /** Use the one-pass fused kernel where the device has it and the tensors are contiguous (default true). */
  fused?: boolean;
}
type H = Required<SGDOptions>;

/** Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD). */
export class SGD extends Optimizer<H> {
  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param options - Hyperparameters, the defaults of every group.
   */
  constructor(params: Params<H>, options: SGDOptions = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, fused: true, ...options });
  }
  protected validate(g: ParamGroup<H>): void {
    checkHyper('SGD', 'lr', g.lr, (v) => v >= 0, 'a number >= 0');
    checkHyper('SGD', 'momentum', g.momentum, (v) => v >= 0, 'a number >= 0');
    checkHyper('SGD', 'weightDecay', g.weightDecay, (v) => v >= 0, 'a number >= 0');
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) checkHyper('SGD', 'momentum', g.momentum, () => false, 'positive, with zero dampening, for nesterov');
  }
  protected override traceKey(g: ParamGroup<H>): unknown[] {
    return [g.fused, g.momentum !== 0]; // the kernels and their inputs; the unfused path guards its numbers below
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup<H>, state: ParamState): FusedUpdate | undefined {
    const init = g.momentum !== 0 && !state.momentumBuffer;
    if (init) state.momentumBuffer = keep(zerosLike(p));
    const tensors = g.momentum !== 0 ? [p, grad, state.momentumBuffer as Tensor] : [p, grad];
    if (g.fused && canFuse('sgdStep', tensors)) {
      return { op: 'sgdStep', tensors, attrs: () => ({ lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov, maximize: g.maximize, init }) };
    }
    guardValue(() => [g.lr, g.momentum, g.dampening, g.weightDecay, g.nesterov, g.maximize], 'SGD\'s hyperparameters (numbers in its unfused update)');
    let d = g.maximize ? neg(grad) : grad;
    if (g.weightDecay !== 0) d = add(d, mul(p, g.weightDecay));
    if (g.momentum !== 0) {
      const buf = state.momentumBuffer as Tensor;
      if (init) buf.copy_(d);
      else buf.mul_(g.momentum).add_(g.dampening ? mul(d, 1 - g.dampening) : d);
      d = g.nesterov ? add(d, mul(buf, g.momentum)) : buf;
    }
    p.sub_(mul(d, g.lr));
    return undefined;
  }
}
