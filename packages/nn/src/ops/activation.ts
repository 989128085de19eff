import { DTypeError, ValueError, add, defineOp, isFloating, mul, pow, run, tanh, tidy, type ActivationAttrs, type Tensor } from '@tapegrad/tensor';
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

// ---- issue 16: silu, leakyRelu, elu, softplus, mish, hardswish --------------------------------
// Each is one op with a kernel per backend and a backward op `<name>Backward` (inputs x and the
// output's gradient) with kernels too: one pass each way, where the composites cost three to
// eight passes (silu, in every modern MLP block, is x·σ(x) forward and five ops backward) and
// softplus's and elu's need log1p and expm1 to keep their precision near 0 and for very
// negative x. Definitions and gradients here; kernels in the backends' kernels/activation.ts.
const ACTIVATIONS = ['silu', 'leakyRelu', 'elu', 'softplus', 'mish', 'hardswish'] as const;
for (const name of ACTIVATIONS) {
  defineOp<ActivationAttrs>({
    name,
    infer: ([x]) => {
      if (!isFloating(x!.dtype)) throw new DTypeError(`${name}: input must be a floating-point tensor; got ${x!.dtype}`);
      return [{ shape: x!.shape, dtype: x!.dtype }];
    },
  });
  defineOp<ActivationAttrs>({ name: `${name}Backward`, differentiable: false, infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
  registerGradient<ActivationAttrs>(name, { saveInputs: true, backward: (c, [g]) => [run(`${name}Backward`, [c.inputs[0]!, g!], c.attrs)] });
}

function finite(op: string, arg: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(`${op}: ${arg} must be a finite number; got ${String(v)}`);
  return v;
}

/** SiLU (swish), x·σ(x), elementwise (torch.nn.functional.silu). Non-float input throws a DTypeError. */
export function silu(x: Tensor): Tensor {
  return run('silu', [x], {});
}
/** x where x > 0, else negativeSlope·x (torch.nn.functional.leaky_relu; default slope 0.01). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return run('leakyRelu', [x], { negativeSlope: finite('leakyRelu', 'negativeSlope', negativeSlope) });
}
/** ELU: x where x > 0, else alpha·(eˣ − 1), computed with expm1 (torch.nn.functional.elu; default alpha 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return run('elu', [x], { alpha: finite('elu', 'alpha', alpha) });
}
/** Options of {@link softplus} and {@link Softplus}. */
export interface SoftplusOptions {
  /** Sharpness: softplus(x) = log(1 + e^(beta·x)) / beta. Default 1; must be non-zero. */
  beta?: number;
  /** Above this beta·x the result is x itself (default 20). */
  threshold?: number;
}
/**
 * log(1 + e^(beta·x)) / beta elementwise, computed with log1p (accurate for very negative x), and
 * x itself where beta·x > threshold (torch.nn.functional.softplus). Its gradient is σ(beta·x).
 */
export function softplus(x: Tensor, options: SoftplusOptions = {}): Tensor {
  const beta = finite('softplus', 'beta', options.beta ?? 1);
  if (beta === 0) throw new ValueError('softplus: beta must be non-zero; got 0');
  const threshold = options.threshold ?? 20;
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) throw new ValueError(`softplus: threshold must be a number; got ${String(threshold)}`);
  return run('softplus', [x], { beta, threshold });
}
/** Mish, x·tanh(softplus(x)), elementwise (torch.nn.functional.mish). */
export function mish(x: Tensor): Tensor {
  return run('mish', [x], {});
}
/** Hardswish, x·min(max(x + 3, 0), 6) / 6, elementwise (torch.nn.functional.hardswish). */
export function hardswish(x: Tensor): Tensor {
  return run('hardswish', [x], {});
}
