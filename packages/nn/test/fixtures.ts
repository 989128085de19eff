import { readFileSync } from 'node:fs';
import { tensor, type Tensor } from '@tapegrad/tensor';

// The PyTorch reference values written by fixtures/gen_losses.py (see the note in losses.json).

export interface FixtureTensor {
  shape: number[];
  data: (number | string)[];
  dtype: 'float64' | 'int32';
}
export interface FixtureCase {
  name: string;
  fn: string;
  inputs: Record<string, FixtureTensor>;
  options: Record<string, unknown>;
  output: FixtureTensor;
  upstream: FixtureTensor;
  grads: Record<string, FixtureTensor>;
}

const doc = JSON.parse(readFileSync(new URL('./fixtures/losses.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] };
export const cases: readonly FixtureCase[] = doc.cases;

export function values(t: FixtureTensor): number[] {
  return t.data.map((v) => (typeof v === 'string' ? Number(v) : v));
}
export function toTensor(t: FixtureTensor): Tensor {
  return tensor(t.dtype === 'int32' ? Int32Array.from(values(t)) : Float64Array.from(values(t)), { shape: t.shape, dtype: t.dtype });
}

/** Elementwise closeness with NaN equal to NaN and infinities equal to themselves. */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], what: string, rtol = 1e-9, atol = 1e-10): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) throw new Error(`${what}: element ${i} is ${a}, expected ${e} (PyTorch)`);
  }
}
