import * as tg from '../src/index.js';

// Random small programs (fan-out, ops that save their inputs or outputs, views, in-place ops,
// mixed reductions), built from a seed: random-graphs.test.ts runs them eagerly, compile.test.ts
// compiled beside eager.

export type Shape = number[];
type Step = (v: tg.Tensor[], dtype: 'float32' | 'float64') => tg.Tensor;
export interface Program {
  leaves: Shape[];
  steps: Step[];
  /** Which values the loss reads, with the reduction used for each. */
  loss: (v: tg.Tensor[], dtype: 'float32' | 'float64') => tg.Tensor;
}

/** mulberry32: a small seeded generator, so a failing graph can be rebuilt from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
function broadcast(a: Shape, b: Shape): Shape | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(Math.max(x, y));
  }
  return out;
}
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

export function buildProgram(seed: number): Program {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const leafShapes: Shape[][] = [[[3, 4], [4]], [[3, 4], [3, 1], [4, 3]], [[2, 3, 4], [3, 4]], [[4, 4], [4]], [[6], [2, 3]]];
  const leaves = pick(leafShapes);
  const shapes: Shape[] = leaves.map((s) => s.slice());
  const steps: Step[] = [];
  const add = (shape: Shape, step: Step) => {
    shapes.push(shape);
    steps.push(step);
  };
  const nSteps = 6 + Math.floor(r() * 8);
  for (let k = 0; k < nSteps; k++) {
    // operands lean towards recent values, so intermediates fan out to several consumers
    const recent = () => Math.max(0, shapes.length - 1 - Math.floor(r() * r() * shapes.length));
    const i = recent();
    const si = shapes[i]!;
    const partners = shapes.map((s, j) => [s, j] as const).filter(([s]) => broadcast(si, s));
    const [sj, j] = r() < 0.5 ? pick(partners.slice(-3)) : pick(partners);
    const kind = Math.floor(r() * 14);
    switch (kind) {
      case 0: { // unary ops that save their input or their output
        const f = pick(['square', 'tanh', 'sigmoid', 'expTanh', 'pow3', 'softAbs', 'neg'] as const);
        add(si, (v) => {
          const x = v[i]!;
          switch (f) {
            case 'square': return x.square();
            case 'tanh': return x.tanh();
            case 'sigmoid': return x.sigmoid();
            case 'expTanh': return x.tanh().exp();
            case 'pow3': return x.tanh().pow(3);
            case 'softAbs': return x.square().add(1).sqrt().log();
            case 'neg': return x.neg();
          }
        });
        break;
      }
      case 1: case 2: { // binary ops with broadcasting; j may be i (fan-out into one op)
        const f = pick(['add', 'sub', 'mul', 'div'] as const);
        add(broadcast(si, sj)!, (v) => (f === 'div' ? v[i]!.div(v[j]!.square().add(1)) : v[i]![f](v[j]!)));
        break;
      }
      case 3: // the same tensor twice through an op that saves both
        add(si, (v) => v[i]!.mul(v[i]!));
        break;
      case 4: { // reductions, keeping or dropping the dim
        if (!si.length) break;
        const d = Math.floor(r() * si.length);
        const keep = r() < 0.5;
        const f = pick(['sum', 'mean', 'logsumexp'] as const);
        add(keep ? si.map((n, q) => (q === d ? 1 : n)) : si.filter((_, q) => q !== d), (v) => v[i]![f](d, keep));
        break;
      }
      case 5: { // softmax and logSoftmax save their output
        if (!si.length) break;
        const d = Math.floor(r() * si.length);
        const f = r() < 0.5 ? 'softmax' : 'logSoftmax';
        add(si, (v) => v[i]![f](d));
        break;
      }
      case 6: { // views: reshape to another factorization, transpose, unsqueeze, slice with a step
        const n = numel(si);
        const options: [Shape, (x: tg.Tensor) => tg.Tensor][] = [[[n], (x) => x.reshape([n])]];
        for (const a of [2, 3, 4, 6]) if (n % a === 0 && n > a) options.push([[a, n / a], (x) => x.reshape([a, n / a])]);
        if (si.length >= 2) {
          const t = si.slice();
          [t[0], t[1]] = [t[1]!, t[0]!];
          options.push([t, (x) => x.transpose(0, 1)]);
        }
        options.push([[1, ...si], (x) => x.unsqueeze(0)]);
        if (si.length && si[si.length - 1]! >= 3) {
          const last = si.length - 1;
          options.push([[...si.slice(0, last), Math.ceil(si[last]! / 2)], (x) => x.slice(last, 0, undefined, 2)]);
        }
        const [shape, f] = pick(options);
        add(shape, (v) => f(v[i]!));
        break;
      }
      case 7: { // expand a size-1 dim (a broadcast view), then reduce over it later
        const d = si.indexOf(1);
        if (d < 0) break;
        const shape = si.map((n, q) => (q === d ? 3 : n));
        add(shape, (v) => v[i]!.expand(shape));
        break;
      }
      case 8: { // matmul, through a transposed view
        if (si.length !== 2) break;
        const mates = shapes.map((s, q) => [s, q] as const).filter(([s]) => s.length === 2 && s[1] === si[1]);
        const [sm, m] = pick(mates);
        add([si[0]!, sm[0]!], (v) => v[i]!.matmul(v[m]!.transpose(0, 1)));
        break;
      }
      case 9: case 10: { // in-place ops on a fresh non-leaf: recorded, gradients of the out-of-place program
        if (!same(broadcast(si, sj)!, si)) break;
        const f = pick(['add_', 'sub_', 'mul_', 'div_', 'copy_'] as const);
        add(si, (v) => {
          const t = v[i]!.mul(1);
          if (f === 'div_') return t.div_(v[j]!.square().add(1));
          if (f === 'copy_') return t.copy_(v[j]!.tanh());
          return t[f](v[j]!);
        });
        break;
      }
      case 11: { // where with a constant mask
        const shape = broadcast(si, sj)!;
        const mask = Array.from({ length: numel(shape) }, () => r() < 0.5);
        add(shape, (v, dtype) => tg.where(tg.tensor(mask, { shape, dtype: 'bool' }), v[i]!, v[j]!.mul(tg.tensor(0.5, { dtype }))));
        break;
      }
      case 12: { // indexSelect with repeated indices: the gradient scatters with accumulation
        if (!si.length) break;
        const idx = Array.from({ length: 4 }, () => Math.floor(r() * si[0]!));
        add([4, ...si.slice(1)], (v) => v[i]!.indexSelect(0, tg.tensor(idx, { dtype: 'int32' })));
        break;
      }
      case 13: { // cat of a tensor with itself (fan-out through a join)
        if (!si.length) break;
        add([2 * si[0]!, ...si.slice(1)], (v) => tg.cat([v[i]!, v[i]!.tanh()], 0));
        break;
      }
    }
  }
  // the loss reads several values (fan-out at the end), with mixed reductions and weights
  const reads = Array.from({ length: 2 + Math.floor(r() * 3) }, () => Math.floor(r() * shapes.length));
  reads.push(shapes.length - 1);
  const weights = reads.map((q) => Array.from({ length: numel(shapes[q]!) }, () => r() * 2 - 1));
  const means = reads.map(() => r() < 0.5);
  return {
    leaves,
    steps,
    loss: (v, dtype) => {
      let total: tg.Tensor | undefined;
      reads.forEach((q, k) => {
        const w = tg.tensor(weights[k]!, { shape: shapes[q]!, dtype });
        const term = means[k] ? v[q]!.mul(w).mean() : v[q]!.mul(w).sum();
        total = total ? total.add(term) : term;
      });
      return total!;
    },
  };
}

export function run(p: Program, leaves: tg.Tensor[]): tg.Tensor {
  const v = leaves.slice();
  const dtype = leaves[0]!.dtype as 'float32' | 'float64';
  for (const step of p.steps) v.push(step(v, dtype));
  return p.loss(v, dtype);
}

