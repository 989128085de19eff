import { multinomialError, registerKernel, type MultinomialAttrs } from '@tapegrad/tensor';
import { fills, type CpuKernel } from '../strided.js';

// multinomial from the noise the tensor core drew (packages/tensor/src/ops/multinomial.ts), in
// the probabilities' precision step by step (Math.fround for float32), as the WGSL kernel
// computes: the same samples on both backends.
registerKernel('multinomial', 'cpu', fills(([probs, noise], [out], { numSamples: k, replacement }) => {
  const p = probs!;
  const e = noise!.handle;
  const o = out!.handle;
  const f = p.dtype === 'float32' ? Math.fround : (v: number) => v;
  const C = p.shape[p.shape.length - 1]!;
  const rows = p.shape.length === 2 ? p.shape[0]! : 1;
  const rs = p.shape.length === 2 ? p.strides[0]! : 0;
  const cs = p.strides[p.shape.length - 1]!;
  const fail = (kind: number, at: number, value = 0) => multinomialError(p.shape, k, kind, at, value);
  for (let r = 0; r < rows; r++) {
    const at = (c: number) => p.handle[p.offset + r * rs + c * cs]!;
    let total = 0;
    let nonzero = 0;
    for (let c = 0; c < C; c++) {
      const v = at(c);
      if (!(v >= 0 && v < Infinity)) throw fail(0, r * C + c, v);
      total = f(total + v);
      if (v > 0) nonzero++;
    }
    if (!(total > 0)) throw fail(1, r);
    if (replacement) {
      for (let s = 0; s < k; s++) {
        const t = f(e[r * k + s]! * total);
        // the first category whose running sum passes t; rounding can leave none: the last non-zero one
        let pick = -1;
        let last = 0;
        let cum = 0;
        for (let c = 0; c < C; c++) {
          const v = at(c);
          cum = f(cum + v);
          if (v > 0) last = c;
          if (cum > t) {
            pick = c;
            break;
          }
        }
        o[r * k + s] = pick < 0 ? last : pick;
      }
    } else {
      if (nonzero < k) throw fail(2, r, nonzero);
      // a before b: p_a / e_a > p_b / e_b, ties to the lower index; k passes, each taking the
      // first category that comes after the previous pick
      const key = (c: number) => e[r * C + c]!;
      const before = (a: number, b: number) => {
        const x = f(at(a) * key(b));
        const y = f(at(b) * key(a));
        return x > y || (x === y && a < b);
      };
      let prev = -1;
      for (let s = 0; s < k; s++) {
        let best = -1;
        for (let c = 0; c < C; c++) {
          if (prev >= 0 && !before(prev, c)) continue;
          if (best < 0 || before(c, best)) best = c;
        }
        o[r * k + s] = best;
        prev = best;
      }
    }
  }
}) as CpuKernel<MultinomialAttrs>);
