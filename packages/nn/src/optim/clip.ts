import { ValueError, abs, add, clamp, div, full, max, pow, stack, sum, tidy, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';

/**
 * Scale the gradients of `params` in place so their joint norm is at most maxNorm
 * (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping as a 0-d tensor, which
 * belongs to the scope that is open (a `tidy` around the call disposes it; outside every scope,
 * dispose it yourself); nothing is read back, so it costs no device sync.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): Tensor {
  if (!(maxNorm >= 0)) throw new ValueError(`clipGradNorm: maxNorm must be a number >= 0; got ${maxNorm}`);
  if (!(normType > 0)) throw new ValueError(`clipGradNorm: normType must be positive (or Infinity); got ${normType}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (!grads.length) return full([], 0);
  // the total is tidy's result, so it goes to the caller's scope like any op's output (it was
  // keep()'d once, which made it outlive the caller's tidy: a tensor leaked per call)
  return noGrad(() =>
    tidy(() => {
      const norms = grads.map((g) => (normType === Infinity ? max(abs(g)) : pow(sum(pow(abs(g), normType)), 1 / normType)));
      const total = normType === Infinity ? max(stack(norms)) : pow(sum(pow(stack(norms), normType)), 1 / normType);
      const coef = clamp(div(maxNorm, add(total, 1e-6)), undefined, 1);
      for (const g of grads) g.mul_(coef);
      return total;
    }),
  );
}

/**
 * Clamp every gradient of `params` in place to [−clipValue, clipValue]
 * (torch.nn.utils.clip_grad_value_). Parameters without a gradient are skipped; a clipValue that
 * is negative or not a number throws a ValueError.
 */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new ValueError(`clipGradValue: clipValue must be a number >= 0; got ${clipValue}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  noGrad(() => tidy(() => void grads.forEach((g) => g.copy_(clamp(g, -clipValue, clipValue)))));
}
