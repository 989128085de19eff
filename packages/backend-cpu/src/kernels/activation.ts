import { registerKernel } from '@tapegrad/tensor';
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
