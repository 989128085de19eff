import { registerKernel, type ActivationAttrs } from '@tapegrad/tensor';
import { f32Bits, type WebGPUKernel } from '../program.js';
import { MAP_OPS, mapProgram, type FloatMap } from './elementwise.js';

// gelu (exact, with erf) and its backward, as the CPU kernels (op definitions: @tapegrad/nn's
// ops/activation.ts). WGSL has no erf either: the same Abramowitz & Stegun 7.1.26 polynomial
// as the CPU backend (|error| < 1.5e-7), so both devices approximate alike.
const ERF = () => `fn erf_(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(y, -y, x < 0.0);
}`;
const GELU = { expr: '0.5 * a * (1.0 + erf_(a * 0.7071067811865476))', helpers: ERF };
// inputs: x, grad of the output: d gelu / dx = Φ(x) + x·φ(x)
const GELU_BACKWARD = { expr: 'b * (0.5 * (1.0 + erf_(a * 0.7071067811865476)) + a * 0.3989422804014327 * exp(-0.5 * a * a))', helpers: ERF };

// each op computes in f32 whatever its output (as the CPU): one kernel maker for the table's entries
const f32Kernel = (name: string, { f, scalars }: FloatMap): WebGPUKernel => (inputs, [out], a) => [mapProgram(name, f, 'f32', false, inputs, out!, scalars?.(a) ?? [])];
MAP_OPS.set('gelu', { f: GELU }).set('geluBackward', { f: GELU_BACKWARD });

// ---- issue 16: silu, leakyRelu, elu, softplus, mish, hardswish and their backward ops ----------
// As the CPU kernels (op definitions: @tapegrad/nn's ops/activation.ts), in f32: `a` is x, `b`
// the output's gradient, s0 and s1 the op's attrs. WGSL has neither log1p nor expm1: Kahan's
// forms below keep their relative precision near 0, where log(1 + x) and exp(x) − 1 lose it.
const HELPERS = () => `fn sig(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn log1p_(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}
fn expm1_(x: f32) -> f32 {
  let u = exp(x);
  if (u == 1.0) { return x; }
  if (u - 1.0 == -1.0) { return -1.0; }
  return (u - 1.0) * x / log(u);
}
fn mish_tanh(x: f32) -> f32 {
  if (x > 20.0) { return tanh(clamp(x, -15.0, 15.0)); }
  return tanh(clamp(log1p_(exp(x)), -15.0, 15.0));
}`;
const ACTIVATIONS: Record<string, { params: (a: ActivationAttrs) => number[]; f: string; df: string }> = {
  silu: { params: () => [], f: 'a * sig(a)', df: 'b * sig(a) * (1.0 + a * (1.0 - sig(a)))' },
  leakyRelu: { params: (a) => [a.negativeSlope!], f: 'select(a * s0, a, a > 0.0)', df: 'select(b * s0, b, a > 0.0)' },
  elu: { params: (a) => [a.alpha!], f: 'select(s0 * expm1_(a), a, a > 0.0)', df: 'select(b * s0 * exp(a), b, a > 0.0)' },
  softplus: { params: (a) => [a.beta!, a.threshold!], f: 'select(log1p_(exp(a * s0)) / s0, a, a * s0 > s1)', df: 'select(b * sig(a * s0), b, a * s0 > s1)' },
  mish: { params: () => [], f: 'a * mish_tanh(a)', df: 'b * (mish_tanh(a) + a * sig(a) * (1.0 - mish_tanh(a) * mish_tanh(a)))' },
  // a NaN x gives the gradient g, as the CPU's branches do
  hardswish: { params: () => [], f: 'a * clamp(a + 3.0, 0.0, 6.0) / 6.0', df: 'select(select(b, b * (a / 3.0 + 0.5), a < 3.0), 0.0, a < -3.0)' },
};
for (const [name, { params, f, df }] of Object.entries(ACTIVATIONS)) {
  const scalars = (a: ActivationAttrs) => params(a).map(f32Bits);
  MAP_OPS.set(name, { f: { expr: f, helpers: HELPERS }, scalars }).set(`${name}Backward`, { f: { expr: df, helpers: HELPERS }, scalars });
}
for (const name of ['gelu', 'geluBackward', ...Object.keys(ACTIVATIONS).flatMap((n) => [n, `${n}Backward`])]) registerKernel(name, 'webgpu', f32Kernel(name, MAP_OPS.get(name)!));
