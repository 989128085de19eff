import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

// Every differentiable core op, checked against central finite differences in float64 over
// several shapes, broadcast ones included. Inputs stay away from kinks (relu at 0, abs at 0,
// max ties) where finite differences are not defined.
tg.manualSeed(1234);
const f64 = { dtype: 'float64' as const };
const rnd = (shape: number[]) => tg.randn(shape, f64).requiresGrad_();
const positive = (shape: number[]) => tg.rand(shape, f64).add(0.5).detach().requiresGrad_();
/** Values at least 0.1 from zero, so sign-dependent ops stay differentiable. */
const awayFromZero = (shape: number[]) => {
  const x = tg.rand(shape, f64).add(0.1);
  return tg.where(tg.rand(shape).gt(0.5), x, x.neg()).detach().requiresGrad_();
};
const idx = (data: number[][] | number[]) => tg.tensor(data as number[], { dtype: 'int32' });

type Case = [name: string, fn: (...xs: tg.Tensor[]) => tg.Tensor, inputs: () => tg.Tensor[]];
const shapes2: [number[], number[]][] = [[[3], [3]], [[2, 3], [2, 3]], [[2, 3], [3]], [[2, 1, 4], [3, 1]], [[], [2, 2]]];
const cases: Case[] = [];
for (const [a, b] of shapes2) {
  const tag = `${JSON.stringify(a)}x${JSON.stringify(b)}`;
  cases.push([`add ${tag}`, tg.add, () => [rnd(a), rnd(b)]]);
  cases.push([`sub ${tag}`, tg.sub, () => [rnd(a), rnd(b)]]);
  cases.push([`mul ${tag}`, tg.mul, () => [rnd(a), rnd(b)]]);
  cases.push([`div ${tag}`, tg.div, () => [rnd(a), awayFromZero(b)]]);
  cases.push([`pow ${tag}`, tg.pow, () => [positive(a), rnd(b)]]);
  cases.push([`maximum ${tag}`, tg.maximum, () => [rnd(a), rnd(b)]]);
  cases.push([`minimum ${tag}`, tg.minimum, () => [rnd(a), rnd(b)]]);
  cases.push([`where ${tag}`, (x, y) => tg.where(tg.gt(x.detach(), 0), x, y), () => [rnd(a), rnd(b)]]);
}
for (const shape of [[4], [2, 3], []]) {
  const tag = JSON.stringify(shape);
  cases.push([`neg ${tag}`, tg.neg, () => [rnd(shape)]]);
  cases.push([`abs ${tag}`, tg.abs, () => [awayFromZero(shape)]]);
  cases.push([`exp ${tag}`, tg.exp, () => [rnd(shape)]]);
  cases.push([`log ${tag}`, tg.log, () => [positive(shape)]]);
  cases.push([`sqrt ${tag}`, tg.sqrt, () => [positive(shape)]]);
  cases.push([`tanh ${tag}`, tg.tanh, () => [rnd(shape)]]);
  cases.push([`sigmoid ${tag}`, tg.sigmoid, () => [rnd(shape)]]);
  cases.push([`relu ${tag}`, tg.relu, () => [awayFromZero(shape)]]);
  cases.push([`square ${tag}`, tg.square, () => [rnd(shape)]]);
  cases.push([`clamp ${tag}`, (x) => tg.clamp(x, -0.05, 0.05), () => [awayFromZero(shape)]]);
  cases.push([`sign ${tag}`, (x) => tg.sign(x).add(x), () => [awayFromZero(shape)]]);
}
cases.push(
  ['sum all', (x) => x.sum(), () => [rnd([2, 3])]],
  ['sum dims keepdim', (x) => x.sum([0, 2], true), () => [rnd([2, 3, 2])]],
  ['mean dim', (x) => x.mean(1), () => [rnd([2, 3, 2])]],
  ['max all', (x) => x.max(), () => [rnd([2, 3])]],
  ['max dim', (x) => x.max(1), () => [rnd([2, 3, 2])]],
  ['min dims', (x) => x.min([0, 2], true), () => [rnd([2, 3, 2])]],
  ['max ties share the gradient', (x) => tg.cat([x, x], 0).max(0), () => [rnd([1, 3])]],
  ['logsumexp', (x) => x.logsumexp(1), () => [rnd([2, 3, 2])]],
  ['logsumexp all dims', (x) => x.logsumexp([0, 1]), () => [rnd([3, 2])]],
  ['softmax dim 1', (x) => x.softmax(1), () => [rnd([2, 3, 2])]],
  ['softmax dim -1', (x) => x.softmax(-1), () => [rnd([3, 4])]],
  ['logSoftmax dim 0', (x) => x.logSoftmax(0), () => [rnd([3, 2])]],
  ['logSoftmax dim -1', (x) => x.logSoftmax(-1), () => [rnd([2, 2, 3])]],
  ['matmul 2d', tg.matmul, () => [rnd([3, 4]), rnd([4, 2])]],
  ['matmul vector-vector', tg.matmul, () => [rnd([3]), rnd([3])]],
  ['matmul matrix-vector', tg.matmul, () => [rnd([2, 3]), rnd([3])]],
  ['matmul vector-matrix', tg.matmul, () => [rnd([3]), rnd([3, 2])]],
  ['matmul batched broadcast', tg.matmul, () => [rnd([2, 1, 2, 3]), rnd([3, 3, 2])]],
  ['matmul transposed operands', (a, b) => a.T.matmul(b.T), () => [rnd([3, 2]), rnd([4, 3])]],
  // a transposed operand takes the (dCᵀ·A)ᵀ form of its gradient (grads/matmul.ts)
  ['matmul, only the second transposed (linear)', (x, w) => x.matmul(w.transpose(0, 1)), () => [rnd([3, 4]), rnd([2, 4])]],
  ['matmul, only the first transposed', (a, b) => a.transpose(0, 1).matmul(b), () => [rnd([4, 3]), rnd([4, 2])]],
  ['matmul batched, both transposed', (a, b) => a.transpose(1, 2).matmul(b.transpose(1, 2)), () => [rnd([2, 3, 2]), rnd([2, 4, 3])]],
  ['matmul transposed, broadcast over a batch', (a, w) => a.matmul(w.transpose(0, 1)), () => [rnd([2, 3, 4]), rnd([5, 4])]],
  ['gather', (x) => x.gather(1, idx([[0, 2, 2], [1, 0, 1]])), () => [rnd([2, 3])]],
  ['scatterAdd', (x, s) => x.scatterAdd(0, idx([[1, 0], [1, 1]]), s), () => [rnd([2, 2]), rnd([2, 2])]],
  ['scatterAdd src larger than index', (x, s) => x.scatterAdd(1, idx([[2], [0]]), s), () => [rnd([2, 3]), rnd([2, 2])]],
  ['indexSelect', (x) => x.indexSelect(1, idx([2, 0, 2])), () => [rnd([2, 3, 2])]],
  ['cat', (a, b) => tg.cat([a, b], 1), () => [rnd([2, 1]), rnd([2, 3])]],
  ['stack', (a, b) => tg.stack([a, b], 0), () => [rnd([2, 3]), rnd([2, 3])]],
  ['reshape of a transpose (copy)', (x) => x.T.reshape(-1), () => [rnd([2, 3])]],
  ['view ops chain', (x) => x.permute(2, 0, 1).unsqueeze(0).squeeze(0).flatten(1).narrow(1, 1, 3), () => [rnd([2, 3, 2])]],
  ['expand', (x) => x.expand(2, 3, 4), () => [rnd([3, 1])]],
  ['slice with step', (x) => x.slice(1, 0, undefined, 2), () => [rnd([2, 5])]],
  ['contiguous', (x) => x.T.contiguous(), () => [rnd([2, 3])]],
  ['cast float64 -> float64 via clone', (x) => x.clone().mul(3), () => [rnd([3])]],
  ['fan-out accumulates', (x) => x.mul(x).add(x.exp()).sum(0), () => [rnd([2, 3])]],
  ['an MLP', (x, w, b) => x.matmul(w).add(b).tanh().logSoftmax(1), () => [rnd([3, 4]), rnd([4, 2]), rnd([2])]],
);

describe('gradcheck of every differentiable op', () => {
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      tg.tidy(() => {
        expect(tg.gradcheck(fn, inputs())).toBe(true);
      });
    });
  }
});

describe('gradcheck itself', () => {
  it('fails on a wrong gradient and names the worst element', () => {
    tg.defineOp({ name: 'test.badSquare', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
    tg.registerKernel('test.badSquare', 'cpu', (([x]: { handle: Float64Array }[], [o]: { handle: Float64Array }[]) => {
      for (let i = 0; i < o!.handle.length; i++) o!.handle[i] = x!.handle[i]! ** 2;
    }) as never);
    tg.registerGradient('test.badSquare', { saveInputs: true, backward: (c, [g]) => [g!.mul(c.inputs[0]!).mul(3)] });
    const x = tg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expect(() => tg.gradcheck((t) => tg.run('test.badSquare', [t]), [x])).toThrow(/output 0 at \[1\] with respect to input 0 at \[1\]: analytical 6 vs numerical 4\.0/);
  });
  it('rejects float32 inputs', () => {
    expect(() => tg.gradcheck((t) => t.exp(), [tg.ones([2], { requiresGrad: true })])).toThrow(/float64/);
  });
});
