import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { buildProgram, numel, rng, run } from './random-programs.js';

// Issue 15: "make the class of bug visible". Many random small graphs (fan-out, ops that save
// their inputs or outputs, views, in-place ops, mixed reductions) run forward + backward several
// times in one process, inside scopes, with unrelated allocations between the repetitions so
// the pool hands blocks around. Every repetition must give the same gradient bits as the first,
// the float32 gradients must agree with float64 ones, and those with finite differences
// (gradcheck). Any pass of backward that frees, shares or reads storage it does not own shows up
// as changed bits or a wrong value; a saved tensor written in place shows up as an error.

/** Allocate and free tensors of assorted sizes, so the next repetition gets other blocks. */
function churn(r: () => number): void {
  tg.tidy(() => {
    for (let k = 0; k < 6; k++) tg.full([1 + Math.floor(r() * 40)], r()).add(1);
  });
}

const GRAPHS = 100;
const REPEATS = 5;

describe('random graphs: the same gradient bits on every repetition, and the right ones', () => {
  for (let g = 0; g < GRAPHS; g++) {
    const seed = 1000 + g;
    it(`graph ${seed}`, () => {
      const p = buildProgram(seed);
      const r = rng(seed * 7919);
      const init = p.leaves.map((s) => Array.from({ length: numel(s) }, () => r() * 2 - 1));
      const f64 = p.leaves.map((s, k) => tg.tensor(init[k]!, { shape: s, dtype: 'float64' }).requiresGrad_());
      const f32 = p.leaves.map((s, k) => tg.tensor(init[k]!, { shape: s }).requiresGrad_());

      expect(tg.gradcheck((...xs) => run(p, xs), f64)).toBe(true);
      const reference = tg.tidy(() => {
        run(p, f64).backward();
        return f64.map(gradOf);
      });

      let first: Float32Array[] | undefined;
      for (let rep = 0; rep < REPEATS; rep++) {
        churn(r);
        // alternate tidy and a scope object, the two documented ways to run a step
        const grads = (rep % 2 ? tg.tidy : withScope)(() => {
          for (const x of f32) {
            x.grad?.dispose();
            x.grad = null;
          }
          run(p, f32).backward();
          return f32.map((x) => Float32Array.from(gradOf(x)));
        });
        if (!first) {
          first = grads;
          grads.forEach((gr, k) => {
            const ref = reference[k]!;
            for (let q = 0; q < ref.length; q++) {
              if (Math.abs(gr[q]! - ref[q]!) > 1e-4 + 1e-3 * Math.abs(ref[q]!)) expect.fail(`leaf ${k}[${q}]: float32 ${gr[q]} vs float64 ${ref[q]}`);
            }
          });
        } else {
          grads.forEach((gr, k) => expect(Array.from(gr), `repetition ${rep}, leaf ${k}`).toEqual(Array.from(first![k]!)));
        }
      }
      for (const x of [...f32, ...f64]) x.dispose();
    });
  }
});

/** A leaf's gradient values; a leaf the loss does not reach has none (null), as in torch: zeros here. */
function gradOf(x: tg.Tensor): number[] {
  return x.grad ? Array.from(x.grad.dataSync()) : new Array<number>(x.size).fill(0);
}

function withScope<T>(fn: () => T): T {
  using s = tg.scope();
  return s.keep(fn());
}
