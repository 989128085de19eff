import '@tapegrad/backend-cpu';
import '@tapegrad/autograd';
import { readFileSync } from 'node:fs';
import { tensor, type Tensor } from '@tapegrad/tensor';
import { expect } from 'vitest';

/** The PyTorch reference values (see fixtures/gen_nn.py for how they were made). */
export const ref = JSON.parse(readFileSync(new URL('./fixtures/nn.json', import.meta.url), 'utf8'));

export interface Encoded {
  shape: number[];
  data: number[];
}
export function f64(e: Encoded, requiresGrad = false): Tensor {
  const t = tensor(Float64Array.from(e.data), { shape: e.shape, dtype: 'float64' });
  return requiresGrad ? t.requiresGrad_() : t;
}
export function i32(e: Encoded): Tensor {
  return tensor(Int32Array.from(e.data), { shape: e.shape, dtype: 'int32' });
}
export function expectClose(t: Tensor, e: Encoded, tol = 1e-9): void {
  expect(t.shape).toEqual(e.shape);
  const got = t.dataSync();
  let worst = 0;
  let at = -1;
  e.data.forEach((v, i) => {
    const d = Math.abs(got[i]! - v) / (1 + Math.abs(v));
    if (!(d <= worst)) [worst, at] = [d, i];
  });
  expect(worst, `worst relative error at flat index ${at}: got ${got[at]}, expected ${e.data[at]}`).toBeLessThanOrEqual(tol);
}
/** A seeded float64 tensor of small values that needs grad, for gradcheck. */
export function rnd(shape: number[], seed: number): Tensor {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return tensor(data, { shape, dtype: 'float64' }).requiresGrad_();
}
