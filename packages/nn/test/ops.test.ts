import { describe, expect, it } from 'vitest';
import { gradcheck } from '@tapegrad/autograd';
import { ShapeError, DTypeError, ValueError, add, matmul, mul, ones, sum, tensor, transpose, Generator, type Tensor } from '@tapegrad/tensor';
import { avgPool2d, batchNorm, conv2d, dropout, embedding, gelu, layerNorm, linear, maxPool2d, maxPool2dWithIndices } from '../src/index.js';
import { expectClose, f64, i32, ref, rnd, type Encoded } from './helpers.js';

/** Backward of sum(out * seed), the same seed PyTorch used. */
function backwardWithSeed(out: Tensor, seed: Encoded): void {
  sum(mul(out, f64(seed))).backward();
}
const camel = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), v]));

describe('conv2d', () => {
  for (const c of ref.conv2d) {
    it(`matches PyTorch values and gradients: ${c.name}`, () => {
      const x = f64(c.input, true);
      const w = f64(c.weight, true);
      const b = c.bias ? f64(c.bias, true) : null;
      const out = conv2d(x, w, b, c.options);
      expectClose(out, c.out);
      backwardWithSeed(out, c.seed);
      expectClose(x.grad!, c.grads.input);
      expectClose(w.grad!, c.grads.weight);
      if (b) expectClose(b.grad!, c.grads.bias);
    });
  }
  it('passes gradcheck with stride, padding, dilation, groups and bias', () => {
    const x = rnd([2, 4, 5, 4], 1);
    const w = rnd([4, 2, 2, 3], 2);
    const b = rnd([4], 3);
    expect(gradcheck((x, w, b) => conv2d(x!, w!, b, { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2 }), [x, w, b])).toBe(true);
  });
  it('gives every sample of a batch big enough to be split into chunks what it gets alone', () => {
    // the CPU kernels unroll 2^18 im2col entries at a time: 20 samples of 6x16x16 take two chunks
    for (const dtype of ['float32', 'float64'] as const) {
      const [x, w, b] = [rnd([20, 6, 16, 16], 5), rnd([4, 6, 3, 3], 6), rnd([4], 7)].map((t) => t.cast(dtype).detach().requiresGrad_());
      const out = conv2d(x!, w!, b, { padding: 1 });
      const seed = rnd([...out.shape], 8).detach().cast(dtype);
      sum(mul(out, seed)).backward();
      const whole = [out, x!.grad!, w!.grad!, b!.grad!].map((t) => t.dataSync());
      const perSample = [[], []] as number[][];
      const [dw, db] = [new Float64Array(w!.size), new Float64Array(4)];
      for (let i = 0; i < 20; i++) {
        const xi = x!.detach().narrow(0, i, 1).contiguous().requiresGrad_();
        const [wi, bi] = [w!.detach().requiresGrad_(), b!.detach().requiresGrad_()];
        const oi = conv2d(xi, wi, bi, { padding: 1 });
        sum(mul(oi, seed.narrow(0, i, 1))).backward();
        perSample[0]!.push(...oi.dataSync());
        perSample[1]!.push(...xi.grad!.dataSync());
        wi.grad!.dataSync().forEach((v, j) => (dw[j] += v));
        bi.grad!.dataSync().forEach((v, j) => (db[j] += v));
      }
      const expected = [...perSample, Array.from(dw), Array.from(db)];
      const tol = dtype === 'float32' ? 1e-4 : 1e-12;
      whole.forEach((got, k) => {
        expect(got.length).toBe(expected[k]!.length);
        const worst = Math.max(...Array.from(got, (v, j) => Math.abs(v - expected[k]![j]!) / (1 + Math.abs(v))));
        expect(worst, `${dtype}: output, input grad, weight grad, bias grad [${k}]`).toBeLessThanOrEqual(tol);
      });
    }
  });
  it("accepts unbatched input and padding 'same'", () => {
    const x = rnd([2, 5, 5], 4);
    const w = rnd([3, 2, 3, 3], 5);
    expect(conv2d(x, w, null, { padding: 'same' }).shape).toEqual([3, 5, 5]);
  });
  it('rejects mismatched channels, bad bias, bad options and too-small inputs', () => {
    const x = rnd([1, 3, 5, 5], 6);
    expect(() => conv2d(x, rnd([4, 2, 3, 3], 7))).toThrow(/conv2d: input \[1, 3, 5, 5\] has 3 channels but weight \[4, 2, 3, 3\] with groups=1 expects 2/);
    expect(() => conv2d(x, rnd([4, 3, 3, 3], 7), rnd([3], 1))).toThrow(ShapeError);
    expect(() => conv2d(x, rnd([4, 3, 3, 3], 7), null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
    expect(() => conv2d(x, rnd([4, 3, 7, 7], 7))).toThrow(/smaller than the dilated kernel/);
    expect(() => conv2d(rnd([5, 5], 1), rnd([4, 3, 3, 3], 7))).toThrow(/conv2d: input must be \[N, C, H, W\]/);
    expect(() => conv2d(tensor([[[[1]]]], { dtype: 'int32' }), tensor([[[[1]]]], { dtype: 'int32' }))).toThrow(DTypeError);
  });
});

describe('pooling', () => {
  for (const c of ref.pool) {
    it(`${c.op}Pool2d matches PyTorch: ${c.name}`, () => {
      const x = f64(c.input, true);
      const options = camel(c.options);
      let out: Tensor;
      if (c.op === 'max') {
        const [o, idx] = maxPool2dWithIndices(x, c.kernelSize, options);
        expect(Array.from(idx.dataSync())).toEqual(c.indices.data);
        out = o;
      } else out = avgPool2d(x, c.kernelSize, options);
      expectClose(out, c.out);
      backwardWithSeed(out, c.seed);
      expectClose(x.grad!, c.grads.input);
    });
  }
  it('passes gradcheck', () => {
    const x = rnd([1, 2, 5, 6], 11);
    expect(gradcheck((x) => maxPool2d(x!, 3, { stride: 2, padding: 1 }), [x])).toBe(true);
    expect(gradcheck((x) => avgPool2d(x!, [2, 3], { stride: [2, 1], padding: 1, countIncludePad: false, ceilMode: true }), [x])).toBe(true);
  });
  it("takes NaN as the maximum the way torch's CPU kernel does: the window's last NaN", () => {
    // values and indices printed by torch 1.13's F.max_pool2d(x, 2, return_indices=True), and with stride=1
    const x = tensor([[[[1, NaN, 3, 2], [NaN, 0, 1, 1]]]], { dtype: 'float32' });
    const [o, idx] = maxPool2dWithIndices(x, 2); // the 2x2, stride-2 fast path
    expect(Array.from(o.dataSync())).toEqual([NaN, 3]);
    expect(Array.from(idx.dataSync())).toEqual([4, 2]);
    const [o1, idx1] = maxPool2dWithIndices(x, 2, { stride: 1 }); // the general path
    expect(Array.from(o1.dataSync())).toEqual([NaN, NaN, 3]);
    expect(Array.from(idx1.dataSync())).toEqual([4, 1, 2]);
  });
  it('2x2 windows at stride 2 in ceil mode: the last window of an odd row or column is clipped, as torch clips it', () => {
    // torch 1.13: F.max_pool2d(torch.arange(18.).reshape(1, 2, 3, 3), 2, ceil_mode=True, return_indices=True)
    const x = tensor(Array.from({ length: 18 }, (_, i) => i), { dtype: 'float32' }).reshape([1, 2, 3, 3]);
    const [o, idx] = maxPool2dWithIndices(x, 2, { ceilMode: true });
    expect(Array.from(o.dataSync())).toEqual([4, 5, 7, 8, 13, 14, 16, 17]);
    expect(Array.from(idx.dataSync())).toEqual([4, 5, 7, 8, 4, 5, 7, 8]);
  });
  it('rejects bad kernel sizes and padding', () => {
    const x = rnd([1, 1, 4, 4], 1);
    expect(() => maxPool2d(x, 0)).toThrow(/maxPool2d: kernelSize must be an integer >= 1/);
    expect(() => maxPool2d(x, 2, { padding: 2 })).toThrow(/padding \[2, 2\] must be at most half of kernelSize/);
    expect(() => avgPool2d(x, 5)).toThrow(/avgPool2d: input \[1, 1, 4, 4\] is too small/);
    expect(() => avgPool2d(x, 2, { divisorOverride: 0 })).toThrow(ValueError);
  });
});

describe('normalisation', () => {
  it('layerNorm matches PyTorch and passes gradcheck', () => {
    const c = ref.norm.layerNorm;
    const [x, w, b] = [f64(c.input, true), f64(c.weight, true), f64(c.bias, true)];
    const out = layerNorm(x, c.normalizedShape, w, b);
    expectClose(out, c.out);
    backwardWithSeed(out, c.seed);
    expectClose(x.grad!, c.grads.input);
    expectClose(w.grad!, c.grads.weight);
    expectClose(b.grad!, c.grads.bias);
    const c2 = ref.norm.layerNorm2d;
    expectClose(layerNorm(f64(c2.input), c2.normalizedShape), c2.out);
    expect(gradcheck((x, w, b) => layerNorm(x!, [3], w, b), [rnd([2, 3], 1), rnd([3], 2), rnd([3], 3)])).toBe(true);
    expect(() => layerNorm(x, [4])).toThrow(/layerNorm: normalizedShape \[4\] must match the trailing dims of input \[3, 4, 5\]/);
  });
  it('batchNorm matches PyTorch in training (with running statistics) and in eval', () => {
    const c = ref.norm.batchNorm2d;
    const [x, w, b] = [f64(c.input, true), f64(c.weight, true), f64(c.bias, true)];
    const rm = tensor(new Float64Array(3));
    const rv = tensor(Float64Array.from([1, 1, 1]));
    const out = batchNorm(x, rm, rv, w, b, { training: true, momentum: c.momentum });
    expectClose(out, c.out);
    expectClose(rm, c.runningMean);
    expectClose(rv, c.runningVar);
    backwardWithSeed(out, c.seed);
    expectClose(x.grad!, c.grads.input);
    expectClose(w.grad!, c.grads.weight);
    expectClose(b.grad!, c.grads.bias);
    expectClose(batchNorm(f64(c.evalInput), rm, rv, w, b), c.evalOut);
    expect(gradcheck((x, w, b) => batchNorm(x!, null, null, w, b, { training: true }), [rnd([3, 2, 2], 1), rnd([2], 2), rnd([2], 3)])).toBe(true);
    expect(() => batchNorm(rnd([1, 2], 1), null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
    expect(() => batchNorm(x, rm, rnd([4], 1))).toThrow(/batchNorm: runningVar must have shape \[3\]/);
  });
});

describe('embedding, linear, gelu, dropout', () => {
  it('embedding matches PyTorch, padding row gets no gradient', () => {
    const c = ref.misc.embedding;
    const w = f64(c.weight, true);
    const out = embedding(i32(c.indices), w, { paddingIdx: c.paddingIdx });
    expectClose(out, c.out);
    backwardWithSeed(out, c.seed);
    expectClose(w.grad!, c.grads.weight);
    expect(gradcheck((w) => embedding(tensor([0, 2, 2], { dtype: 'int32' }), w!), [rnd([3, 2], 1)])).toBe(true);
    expect(() => embedding(tensor([0.5]), w)).toThrow(/embedding: indices must be an int32 tensor/);
    expect(() => embedding(tensor([9], { dtype: 'int32' }), w)).toThrow(/out of range/);
  });
  it('linear matches PyTorch', () => {
    const c = ref.misc.linear;
    const [x, w, b] = [f64(c.input, true), f64(c.weight, true), f64(c.bias, true)];
    const out = linear(x, w, b);
    expectClose(out, c.out);
    backwardWithSeed(out, c.seed);
    expectClose(x.grad!, c.grads.input);
    expectClose(w.grad!, c.grads.weight);
    expectClose(b.grad!, c.grads.bias);
    expect(() => linear(x, rnd([5, 3], 1))).toThrow(/linear: input \[2, 3, 4\] must end in inFeatures = 3/);
    expect(() => linear(x, w.cast('float32'), b)).toThrow(DTypeError);
    expect(() => linear(x, w, b.cast('float32'))).toThrow(/linear: input, weight and bias must have one dtype/);
  });
  it('linear is one op on the CPU and passes gradcheck (2-d and 3-d input, with and without bias)', () => {
    const [x, w, b] = [rnd([5, 4], 1), rnd([3, 4], 2), rnd([3], 3)];
    expect(linear(x, w, b).gradFn?.op).toBe('linear');
    expect(gradcheck((x, w, b) => linear(x!, w!, b), [x, w, b])).toBe(true);
    expect(gradcheck((x, w) => linear(x!, w!), [rnd([2, 3, 4], 4), w])).toBe(true);
    // an input that needs no gradient (a batch of data): only W and b get one
    const data = rnd([6, 4], 5).detach();
    expect(gradcheck((w, b) => linear(data, w!, b), [w, b])).toBe(true);
  });
  it('linear takes a 1-d input as torch does (the fused CPU kernel gave zeros for it)', () => {
    const [x, w, b] = [rnd([4], 1), rnd([3, 4], 2), rnd([3], 3)];
    const out = linear(x, w, b);
    expect(out.shape).toEqual([3]);
    const expected = add(matmul(w.detach(), x.detach()), b.detach()).dataSync();
    out.dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
    expect(gradcheck((x, w, b) => linear(x!, w!, b), [x, w, b])).toBe(true);
  });
  it('linear gives the bits of the composite x·Wᵀ + b on float32, forward and backward', () => {
    const leaf = (t: Tensor) => t.cast('float32').detach().requiresGrad_();
    const [x, w, b] = [leaf(rnd([64, 37], 6)), leaf(rnd([24, 37], 7)), leaf(rnd([24], 8))];
    const seed = rnd([64, 24], 9).cast('float32').detach();
    const fused = linear(x, w, b);
    sum(mul(fused, seed)).backward();
    const grads = [x, w, b].map((t) => Array.from(t.grad!.dataSync()));
    for (const t of [x, w, b]) t.grad = null;
    const composite = add(matmul(x, transpose(w, 0, 1)), b);
    expect(composite.gradFn?.op).toBe('add');
    sum(mul(composite, seed)).backward();
    expect(Array.from(fused.dataSync())).toEqual(Array.from(composite.dataSync()));
    expect([x, w, b].map((t) => Array.from(t.grad!.dataSync()))).toEqual(grads);
    expect(w.grad!.isContiguous()).toBe(true);
  });
  it('gelu matches PyTorch (exact and tanh) and passes gradcheck', () => {
    const c = ref.misc.gelu;
    expectClose(gelu(f64(c.input)), c.out); // erf to 1.1 ulp (it was Abramowitz & Stegun's, 1.5e-7)
    expectClose(gelu(f64(c.input), { approximate: 'tanh' }), c.tanh);
    expect(gradcheck((x) => gelu(x!), [rnd([7], 3)])).toBe(true);
    expect(gradcheck((x) => gelu(x!, { approximate: 'tanh' }), [rnd([7], 3)])).toBe(true);
  });
  it('dropout is seeded, scales kept elements by 1/(1-p), and is the identity in eval', () => {
    const x = ones([1000], { dtype: 'float64' });
    const a = dropout(x, { p: 0.3, generator: new Generator(5) }).dataSync();
    const b = dropout(x, { p: 0.3, generator: new Generator(5) }).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const kept = Array.from(a).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-12)).toBe(true);
    expect(kept.length).toBeGreaterThan(620);
    expect(kept.length).toBeLessThan(780);
    expect(dropout(x, { p: 0.3, training: false })).toBe(x);
    expect(Array.from(dropout(x, { p: 1 }).dataSync()).every((v) => v === 0)).toBe(true);
    const w = rnd([6], 9);
    const y = dropout(w, { p: 0.5, generator: new Generator(3) });
    sum(y).backward();
    expect(Array.from(w.grad!.dataSync())).toEqual(Array.from(y.dataSync()).map((v) => (v === 0 ? 0 : 2)));
    expect(() => dropout(x, { p: 1.5 })).toThrow(/dropout: p must be a probability in \[0, 1\]; got 1.5/);
  });
});
