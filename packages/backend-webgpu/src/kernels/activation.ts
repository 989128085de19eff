import { registerKernel } from '@tapegrad/tensor';
import type { WebGPUKernel } from '../program.js';
import { mapProgram } from './elementwise.js';

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

registerKernel('gelu', 'webgpu', (([x], [out]) => [mapProgram('gelu', GELU, 'f32', false, [x!], out!)]) as WebGPUKernel);
registerKernel('geluBackward', 'webgpu', (([x, g], [out]) => [mapProgram('geluBackward', GELU_BACKWARD, 'f32', false, [x!, g!], out!)]) as WebGPUKernel);
