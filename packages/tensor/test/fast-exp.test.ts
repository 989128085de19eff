import { describe, expect, it } from 'vitest';
import { fastExp } from '../src/index.js';

// fastExp against Math.exp: the relative error bound it documents (1e-9) over a dense sweep of the
// range where it approximates, float32 agreement to one step, and Math.exp's exact values at the
// edges, where it defers to Math.exp.

/** Points from lo to hi with a step that is not a multiple of the table's ln2/32. */
function* sweep(lo: number, hi: number, step: number): Generator<number> {
  for (let i = 0, x = lo; x < hi; i++, x = lo + i * step) yield x;
}

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);
/** Distance in float32 steps between two non-negative numbers rounded to float32. */
function float32Steps(a: number, b: number): number {
  f32[0] = a;
  const ia = bits[0]!;
  f32[0] = b;
  return Math.abs(ia - bits[0]!);
}

describe('fastExp', () => {
  it('has a relative error below 1e-9 over (-708, 709)', () => {
    let worst = 0;
    let worstAt = NaN;
    let n = 0;
    for (const x of sweep(-707.999, 709, 1 / 1000 + 1e-7)) {
      const e = Math.exp(x);
      const rel = Math.abs(fastExp(x) - e) / e;
      if (rel > worst) [worst, worstAt] = [rel, x];
      n++;
    }
    expect(n).toBeGreaterThan(1.4e6); // every table entry, many times over
    expect(worst, `worst at x = ${worstAt}`).toBeLessThan(1e-9);
  });

  it('is exact or nearly so on the common softmax range (-20, 1), sampled finely', () => {
    let worst = 0;
    for (const x of sweep(-20, 1, 1 / 65536 + 1e-9)) worst = Math.max(worst, Math.abs(fastExp(x) / Math.exp(x) - 1));
    expect(worst).toBeLessThan(1e-9);
  });

  it('rounds to Math.exp\'s float32 or its neighbour across float32\'s whole range', () => {
    // exp overflows float32 above 88.73 and underflows it to 0 below -103.98
    let worst = 0;
    let differ = 0;
    let n = 0;
    for (const x of sweep(-105, 89, 1 / 4096 + 1e-8)) {
      const steps = float32Steps(fastExp(x), Math.exp(x));
      worst = Math.max(worst, steps);
      if (steps) differ++;
      n++;
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(differ / n, `${differ} of ${n}`).toBeLessThan(0.01); // only near a rounding boundary: ~0.1% of points
  });

  it('gives Math.exp\'s exact value at the edges and outside (-708, 709)', () => {
    const edges = [
      0, -0, Number.MIN_VALUE, -Number.MIN_VALUE, 1e-300, -1e-300, 1e-17, -1e-17,
      -708, -708.39, -708.4, -720, -744.4, -744.5, -745.13, -745.14, -746, -1000, -Number.MAX_VALUE,
      709, 709.78, 709.79, 710, 1000, Number.MAX_VALUE,
      Infinity, -Infinity, NaN,
    ];
    for (const x of edges) {
      if (x > -708 && x < 709) expect(Math.abs(fastExp(x) / Math.exp(x) - 1), `x = ${x}`).toBeLessThan(1e-9);
      else expect(fastExp(x), `x = ${x}`).toBe(Math.exp(x));
    }
    expect(fastExp(0)).toBe(1);
    expect(fastExp(-0)).toBe(1);
    expect(fastExp(-Infinity)).toBe(0);
    expect(fastExp(Infinity)).toBe(Infinity);
    expect(fastExp(NaN)).toBeNaN();
    expect(fastExp(-800)).toBe(0);
    expect(fastExp(-744)).toBeGreaterThan(0); // subnormal, as Math.exp gives
  });

  it('is accurate just inside the range limits, where the tables end', () => {
    for (const x of [-707.9999999, -707.99, -707.5, 708.5, 708.99, 708.9999999]) {
      expect(Math.abs(fastExp(x) / Math.exp(x) - 1), `x = ${x}`).toBeLessThan(1e-9);
    }
  });
});
