import { fastExp, registerKernel, type ActivationAttrs } from '@tapegrad/tensor';
import { fills, isContiguous, type CpuKernel, type CpuView } from '../strided.js';
import { binaryKernel, FUSIBLE, unaryKernel } from './elementwise.js';
import { erf } from './erf.js';

// gelu (exact, with erf) and its backward (op definition and gradient rule: @tapegrad/nn's
// ops/activation.ts). erf is the erf op's (erf.ts), within 1.1 ulp in float64.
const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const gelu = (x: number) => 0.5 * x * (1 + erf(x * SQRT1_2));
// inputs: x, grad of the output: d gelu / dx = Φ(x) + x·φ(x)
const geluBackward = (x: number, g: number) => g * (0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x));
registerKernel('gelu', 'cpu', unaryKernel(gelu));
registerKernel('geluBackward', 'cpu', binaryKernel(geluBackward));
FUSIBLE.set('gelu', () => gelu).set('geluBackward', () => geluBackward as (...x: number[]) => number);

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
// SiLU is in every modern MLP block: on contiguous float32 operands it runs loops of its own (each
// a function literal V8 specialises, as fast-f32.ts's) with fastExp, accurate to float32: the
// generic path, which calls the scalar function through a loop all these ops share, took 66 ms
// for a million elements forward where these take 8 (and the composite x·σ(x), 60).
type Loop = (x: Float32Array, g: Float32Array, o: Float32Array, n: number) => void;
const FAST: Record<string, Loop> = {
  silu: (x, _g, o, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      o[i] = v / (1 + fastExp(-v));
    }
  },
  siluBackward: (x, g, o, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const s = 1 / (1 + fastExp(-v));
      o[i] = g[i]! * s * (1 + v * (1 - s));
    }
  },
};
function fast(name: string, generic: CpuKernel<ActivationAttrs>): CpuKernel<ActivationAttrs> {
  const loop = FAST[name];
  if (!loop) return generic;
  return (inputs, outputs, a, op) => {
    const out = outputs[0]!;
    const n = out.shape.reduce((p, d) => p * d, 1);
    if (out.dtype === 'float32' && inputs.every((v) => v.dtype === 'float32' && isContiguous(v) && v.shape.length === out.shape.length && v.shape.every((d, i) => d === out.shape[i]))) {
      const f32 = (v: CpuView) => (v.handle as Float32Array).subarray(v.offset, v.offset + n);
      return loop(f32(inputs[0]!), f32(inputs[1] ?? inputs[0]!), f32(out), n);
    }
    generic(inputs, outputs, a, op);
  };
}
for (const [name, { f, df }] of Object.entries(ACTIVATIONS)) {
  if (!FAST[name]) FUSIBLE.set(name, (a: ActivationAttrs) => (x) => f(x!, a));
  if (!FAST[`${name}Backward`]) FUSIBLE.set(`${name}Backward`, (a: ActivationAttrs) => (x, g) => df(x!, g!, a));
  registerKernel(name, 'cpu', fills(fast(name, (inputs, outputs, a, op) => unaryKernel((x) => f(x, a))(inputs, outputs, a, op))));
  registerKernel(`${name}Backward`, 'cpu', fills(fast(`${name}Backward`, (inputs, outputs, a, op) => binaryKernel((x, g) => df(x, g, a))(inputs, outputs, a, op))));
}
