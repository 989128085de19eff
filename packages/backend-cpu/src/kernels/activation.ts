import { registerKernel, type ActivationAttrs } from '@tapegrad/tensor';
import { fills, type CpuKernel } from '../strided.js';
import { binaryKernel, unaryKernel } from './elementwise.js';

// gelu (exact, with erf) and its backward (op definition and gradient rule: @tapegrad/nn's
// ops/activation.ts). JavaScript has no Math.erf: Abramowitz & Stegun 7.1.26, |error| < 1.5e-7.
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

registerKernel('gelu', 'cpu', unaryKernel((x) => 0.5 * x * (1 + erf(x * SQRT1_2))));
// inputs: x, grad of the output: d gelu / dx = Φ(x) + x·φ(x)
registerKernel('geluBackward', 'cpu', binaryKernel((x, g) => g * (0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x))));

// ---- issue 16: silu, leakyRelu, elu, softplus, mish, hardswish and their backward ops ----------
// (definitions and gradient rules: @tapegrad/nn's ops/activation.ts). Each is a scalar function
// of x and its attrs, and its derivative times the output's gradient g, as PyTorch's CPU kernels
// compute them (the same branches at the kinks).
function sig(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
const mishTanh = (x: number) => Math.tanh(x > 20 ? x : Math.log1p(Math.exp(x))); // tanh(softplus(x))
interface Activation {
  f(x: number, a: ActivationAttrs): number;
  df(x: number, g: number, a: ActivationAttrs): number;
}
const ACTIVATIONS: Record<string, Activation> = {
  silu: { f: (x) => x * sig(x), df: (x, g) => { const s = sig(x); return g * s * (1 + x * (1 - s)); } },
  leakyRelu: { f: (x, a) => (x > 0 ? x : x * a.negativeSlope!), df: (x, g, a) => (x > 0 ? g : g * a.negativeSlope!) },
  // torch takes the negative branch at 0, so the gradient there is alpha
  elu: { f: (x, a) => (x > 0 ? x : a.alpha! * Math.expm1(x)), df: (x, g, a) => (x > 0 ? g : g * a.alpha! * Math.exp(x)) },
  softplus: {
    f: (x, a) => (x * a.beta! > a.threshold! ? x : Math.log1p(Math.exp(x * a.beta!)) / a.beta!),
    df: (x, g, a) => (x * a.beta! > a.threshold! ? g : g * sig(x * a.beta!)),
  },
  mish: { f: (x) => x * mishTanh(x), df: (x, g) => { const t = mishTanh(x); return g * (t + x * sig(x) * (1 - t * t)); } },
  hardswish: {
    f: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
    // at x = 3 PyTorch's vectorised kernel (any tensor of more than a few elements) gives g, its
    // scalar tail loop 1.5·g: the vectorised one is followed
    df: (x, g) => (x < -3 ? 0 : x < 3 ? g * (x / 3 + 0.5) : g),
  },
};
for (const [name, { f, df }] of Object.entries(ACTIVATIONS)) {
  registerKernel(name, 'cpu', fills(((inputs, outputs, a, op) => unaryKernel((x) => f(x, a))(inputs, outputs, a, op)) as CpuKernel<ActivationAttrs>));
  registerKernel(`${name}Backward`, 'cpu', fills(((inputs, outputs, a, op) => binaryKernel((x, g) => df(x, g, a))(inputs, outputs, a, op)) as CpuKernel<ActivationAttrs>));
}
