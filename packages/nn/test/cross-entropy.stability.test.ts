import '@tapegrad/backend-cpu';
import { cast, manualSeed, mul, randint, randn, tensor, type Tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';
import { expectClose } from './fixtures.js';

// The fused kernel against an independent float64 reference written here (max-shifted
// log-sum-exp, one row at a time): logits of ±1e4 in float32, and rows of 100k classes.

function reference(x: Float64Array, C: number, target: Int32Array, eps: number): { loss: number; grad: Float64Array } {
  const N = target.length;
  const grad = new Float64Array(N * C);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = x.subarray(n * C, (n + 1) * C);
    let m = -Infinity;
    for (const v of row) m = Math.max(m, v);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    let smooth = 0;
    for (const v of row) smooth += lse - v;
    loss += ((1 - eps) * (lse - row[target[n]!]!) + (eps / C) * smooth) / N;
    for (let c = 0; c < C; c++) grad[n * C + c] = (Math.exp(row[c]! - lse) - (c === target[n] ? 1 - eps : 0) - eps / C) / N;
  }
  return { loss, grad };
}

function check(x32: Tensor, target: Tensor, eps: number, rtol: number, atol: number): void {
  const C = x32.shape[1]!;
  const x = x32.requiresGrad_();
  const loss = F.crossEntropy(x, target, { labelSmoothing: eps });
  loss.backward();
  const ref = reference(Float64Array.from(x32.dataSync()), C, target.dataSync() as Int32Array, eps);
  const got = loss.itemSync();
  expect(Number.isFinite(got)).toBe(true);
  expectClose([got], [ref.loss], 'loss', rtol, atol);
  const g = x.grad!.dataSync();
  expect(g.every(Number.isFinite)).toBe(true);
  expectClose(g, Array.from(ref.grad), 'gradient', rtol, atol);
}

describe('fused crossEntropy stability', () => {
  manualSeed(3);
  it('logits up to ±1e4 in float32: finite, correct loss and gradient', () => {
    const x = tensor([
      [1e4, -1e4, 0, 9999, -9999, 5e3],
      [-1e4, -1e4, -1e4, -1e4, -1e4, -9998],
      [1e4, 1e4, 1e4, 1e4, 1e4, 1e4],
      [0.5, -1e4, 1e4, 2, 1e4, -3],
    ]);
    const target = tensor([1, 5, 2, 0], { dtype: 'int32' });
    for (const eps of [0, 0.1]) check(x.detach(), target, eps, 1e-6, 1e-9);
  });
  it('random logits scaled to ±1e4 in float32 and float64', () => {
    const x = mul(randn([8, 50]), 5e3);
    const target = randint(0, 50, [8], { dtype: 'int32' });
    check(x, target, 0.2, 1e-6, 1e-9);
    check(cast(x.detach(), 'float64'), target, 0.2, 1e-12, 1e-15);
  });
  it('rows of 100k classes', () => {
    const x = mul(randn([3, 100_000]), 4);
    const target = tensor([0, 99_999, 51_234], { dtype: 'int32' });
    check(x, target, 0, 1e-6, 1e-12);
    check(x.detach(), target, 0.1, 1e-6, 1e-12);
  });
  it('matches the unfused logSoftmax -> nllLoss chain', () => {
    const x = randn([16, 30]).requiresGrad_();
    const y = x.detach().clone().requiresGrad_();
    const target = randint(0, 30, [16], { dtype: 'int32' });
    const weight = tensor(Array.from({ length: 30 }, (_, i) => 0.5 + i / 30));
    F.crossEntropy(x, target, { weight }).backward();
    F.nllLoss(F.logSoftmax(y, 1), target, { weight }).backward();
    expectClose(x.grad!.dataSync(), Array.from(y.grad!.dataSync()), 'gradient', 1e-5, 1e-7);
  });
});
