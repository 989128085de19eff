import { DTypeError, ValueError, add, defineOp, isFloating, mul, pow, run, tanh, tidy, type Tensor } from '@tapegrad/tensor';
import { registerGradient } from '@tapegrad/autograd';

// gelu: definition and gradient here; CPU kernels in @tapegrad/backend-cpu's kernels/activation.ts.
defineOp({
  name: 'gelu',
  infer: ([x]) => {
    if (!isFloating(x!.dtype)) throw new DTypeError(`gelu: input must be a floating-point tensor; got ${x!.dtype}`);
    return [{ shape: x!.shape, dtype: x!.dtype }];
  },
});
defineOp({ name: 'geluBackward', differentiable: false, infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
registerGradient('gelu', { saveInputs: true, backward: (c, [g]) => [run('geluBackward', [c.inputs[0]!, g!])] });

/**
 * GELU, x·Φ(x) with Φ the standard normal CDF (approximate 'none', the default), or PyTorch's
 * tanh approximation (torch.nn.functional.gelu). Non-float input throws a DTypeError.
 */
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const approximate = options.approximate ?? 'none';
  if (approximate === 'none') return run('gelu', [x]);
  if (approximate !== 'tanh') throw new ValueError(`gelu: approximate must be 'none' or 'tanh'; got ${String(approximate)}`);
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  return tidy(() => mul(mul(x, 0.5), add(tanh(mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1)));
}
