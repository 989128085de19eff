import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gradcheck, noGrad } from '@tapegrad/autograd';
import {
  DTypeError, IndexError, ShapeError, TapegradError, ValueError, manualSeed, memory, rand, randint, randn, resetPeakMemory, tensor, tidy, zeros, type Tensor,
} from '@tapegrad/tensor';
import { functional as F, optim, parameter } from '../src/index.js';
import { expectClose, f64, i32, rnd, type Encoded } from './helpers.js';

// PyTorch 1.13 reference values written by fixtures/gen_i16-optim.py: F.cross_entropy(h @ W.T + b, target, ...).
const ref = JSON.parse(readFileSync(new URL('./fixtures/i16-optim.json', import.meta.url), 'utf8'));

interface Case {
  name: string;
  h: Encoded;
  W: Encoded;
  b?: Encoded;
  weight?: Encoded;
  target: Encoded;
  options: F.LinearCrossEntropyOptions;
  loss: Encoded;
  upstream: Encoded;
  gradH: Encoded;
  gradW: Encoded;
  gradB?: Encoded;
}

const maxDiff = (a: Tensor, b: Tensor) => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!)));
  return worst;
};

describe('linearCrossEntropy against PyTorch (float64)', () => {
  for (const c of ref.linearCrossEntropy as Case[]) {
    for (const chunkSize of [undefined, 1, 2, 3]) {
      it(`${c.name}, chunkSize ${chunkSize ?? 'default'}: loss and the gradients of h, W and bias`, () => {
        const h = f64(c.h, true);
        const W = f64(c.W, true);
        const b = c.b ? f64(c.b, true) : undefined;
        const loss = F.linearCrossEntropy(h, W, i32(c.target), { ...c.options, bias: b, weight: c.weight ? f64(c.weight) : undefined, chunkSize });
        expectClose(loss, c.loss, 1e-10);
        loss.backward(f64(c.upstream));
        expectClose(h.grad!, c.gradH, 1e-10);
        expectClose(W.grad!, c.gradW, 1e-10);
        if (b) expectClose(b.grad!, c.gradB!, 1e-10);
      });
    }
  }
});

describe('linearCrossEntropy equals crossEntropy(linear(h, W, b), target) in float32', () => {
  manualSeed(16);
  const [N, D, V] = [45, 7, 300];
  const h0 = randn([N, D]);
  const W0 = randn([V, D]).mul(0.3);
  const b0 = randn([V]).mul(0.1);
  const weight = rand([V]).add(0.5);
  const target = randint(0, V, [N], { dtype: 'int32' });
  const withIgnored = tensor(Int32Array.from(target.dataSync(), (y, i) => (i % 7 === 3 ? -100 : y)), { dtype: 'int32' });
  const options: [string, F.CrossEntropyOptions, Tensor][] = [
    ['mean', {}, target],
    ['sum', { reduction: 'sum' }, target],
    ['none', { reduction: 'none' }, withIgnored],
    ['weight + label smoothing + ignored', { weight, labelSmoothing: 0.15 }, withIgnored],
    ['weight, sum, ignoreIndex 5', { weight, reduction: 'sum', ignoreIndex: 5 }, target],
    ['label smoothing, none', { labelSmoothing: 0.3, reduction: 'none' }, target],
  ];
  const run = (loss: (h: Tensor, W: Tensor, b: Tensor) => Tensor, up: Tensor | undefined) => {
    const [h, W, b] = [h0, W0, b0].map((t) => t.clone().requiresGrad_());
    const l = loss(h!, W!, b!);
    l.backward(up);
    return [l, h!.grad!, W!.grad!, b!.grad!];
  };
  for (const [name, o, t] of options) {
    for (const chunkSize of [8, 13, 64]) {
      it(`${name}, chunkSize ${chunkSize}`, () => {
        const up = o.reduction === 'none' ? randn([N]) : undefined;
        const fused = run((h, W, b) => F.linearCrossEntropy(h, W, t, { ...o, bias: b, chunkSize }), up);
        const plain = run((h, W, b) => F.crossEntropy(F.linear(h, W, b), t, o), up);
        ['loss', 'dh', 'dW', 'db'].forEach((what, i) => expect(maxDiff(fused[i]!, plain[i]!), what).toBeLessThan(2e-6));
      });
    }
  }
  it('an upstream gradient other than 1 scales the precomputed gradients', () => {
    const fused = run((h, W, b) => F.linearCrossEntropy(h, W, target, { bias: b, chunkSize: 16 }).mul(2.5), undefined);
    const plain = run((h, W, b) => F.crossEntropy(F.linear(h, W, b), target).mul(2.5), undefined);
    for (let i = 0; i < 4; i++) expect(maxDiff(fused[i]!, plain[i]!)).toBeLessThan(2e-6);
  });
  it('leading dims: h [B, T, D] with target [B, T], as on flattened rows', () => {
    const h = h0.narrow(0, 0, 42).reshape(6, 7, D);
    const t = target.narrow(0, 0, 42).reshape(6, 7);
    const none = F.linearCrossEntropy(h, W0, t, { reduction: 'none', chunkSize: 10 });
    expect(none.shape).toEqual([6, 7]);
    expect(maxDiff(none, F.crossEntropy(F.linear(h, W0).reshape(42, V), t.reshape(42), { reduction: 'none' }).reshape(6, 7))).toBeLessThan(1e-6);
  });
  it('gradients only for what requires grad (a frozen W, no bias)', () => {
    const h = h0.clone().requiresGrad_();
    F.linearCrossEntropy(h, W0, target, { chunkSize: 8 }).backward();
    const hp = h0.clone().requiresGrad_();
    F.crossEntropy(F.linear(hp, W0), target).backward();
    expect(maxDiff(h.grad!, hp.grad!)).toBeLessThan(2e-6);
    expect(W0.grad).toBeNull();
  });
  it('every target ignored: NaN under mean (0/0, as PyTorch), 0 under sum, and zero gradients', () => {
    const ignored = tensor(new Int32Array(N).fill(-100), { dtype: 'int32' });
    const h = h0.clone().requiresGrad_();
    const loss = F.linearCrossEntropy(h, W0, ignored, { chunkSize: 8 });
    expect(Number.isNaN(loss.itemSync())).toBe(true);
    loss.backward();
    expect(Array.from(h.grad!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(F.linearCrossEntropy(h0, W0, ignored, { reduction: 'sum' }).itemSync()).toBe(0);
  });
  it('an empty batch: NaN under mean, 0 under sum, an empty loss under none', () => {
    const [h, t] = [zeros([0, D]), zeros([0], { dtype: 'int32' })];
    expect(Number.isNaN(F.linearCrossEntropy(h, W0, t).itemSync())).toBe(true);
    expect(F.linearCrossEntropy(h, W0, t, { reduction: 'sum' }).itemSync()).toBe(0);
    expect(F.linearCrossEntropy(h, W0, t, { reduction: 'none' }).shape).toEqual([0]);
  });
});

describe('linearCrossEntropy: gradcheck in float64', () => {
  const [N, D, V] = [5, 3, 4];
  const target = tensor([0, 3, 1, -100, 2], { dtype: 'int32' });
  const weight = tensor([0.5, 1, 2, 1.5], { dtype: 'float64' });
  for (const [name, o] of [
    ['mean', {}],
    ['sum, label smoothing', { reduction: 'sum', labelSmoothing: 0.2 }],
    ['none, weight', { reduction: 'none', weight }],
    ['mean, weight, label smoothing', { weight, labelSmoothing: 0.1 }],
  ] as [string, F.CrossEntropyOptions][]) {
    it(`${name}, in chunks of 2`, () => {
      expect(gradcheck((h: Tensor, W: Tensor, b: Tensor) => F.linearCrossEntropy(h, W, target, { ...o, bias: b, chunkSize: 2 }), [rnd([N, D], 1), rnd([V, D], 2), rnd([V], 3)])).toBe(true);
    });
  }
});

describe('linearCrossEntropy: memory', () => {
  // issue 16: the point of the op. Peak live bytes (memory().peakBytes: intermediates freed before
  // the call returned included) of a forward and backward, against the N·V·4 bytes of the logits.
  const [N, D, V] = [2048, 16, 4096];
  const logitsBytes = N * V * 4;
  manualSeed(3);
  const hx = randn([N, D]);
  const Wx = randn([V, D]).mul(0.1);
  const bx = zeros([V]);
  const t = randint(0, V, [N], { dtype: 'int32' });
  const peak = (loss: (h: Tensor, W: Tensor, b: Tensor) => Tensor) => {
    const [h, W, b] = [hx, Wx, bx].map((x) => x.clone().requiresGrad_());
    const base = memory().bytes;
    resetPeakMemory();
    tidy(() => loss(h!, W!, b!).backward());
    const used = memory().peakBytes - base;
    for (const x of [h, W, b]) x!.dispose();
    return used;
  };
  // three passes over 2048x4096 on one thread where there is no shared memory: minutes on a loaded 2-core machine
  it('stays far below the logits: an eighth of N·V·4 with chunks of 128 rows, where the unfused pair needs twice N·V·4', { timeout: 300_000 }, () => {
    const fused = peak((h, W, b) => F.linearCrossEntropy(h, W, t, { bias: b, chunkSize: 128 }));
    const plain = peak((h, W, b) => F.crossEntropy(F.linear(h, W, b), t));
    expect(fused).toBeLessThan(logitsBytes / 8);
    expect(plain).toBeGreaterThanOrEqual(2 * logitsBytes);
    // and the same with reduction 'none', whose backward recomputes the logits chunk by chunk
    expect(peak((h, W, b) => F.linearCrossEntropy(h, W, t, { bias: b, chunkSize: 128, reduction: 'none' }).sum())).toBeLessThan(logitsBytes / 8);
  });
  it('a training loop holds live memory flat', () => {
    const W = parameter(Wx.clone());
    const h = parameter(hx.narrow(0, 0, 64).contiguous());
    const t64 = t.narrow(0, 0, 64);
    const opt = new optim.AdamW([W, h], { lr: 1e-3 });
    const step = () => tidy(() => {
      opt.zeroGrad();
      F.linearCrossEntropy(h, W, t64, { chunkSize: 16, labelSmoothing: 0.1 }).backward();
      opt.step();
    });
    step();
    const before = memory();
    for (let i = 0; i < 4; i++) step();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().bytes).toBe(before.bytes);
    // under noGrad the forward computes no gradients, and keeps nothing
    const evalBefore = memory().tensors;
    const loss = noGrad(() => F.linearCrossEntropy(h, W, t64));
    expect(memory().tensors).toBe(evalBefore + 1);
    loss.dispose();
  });
});

describe('linearCrossEntropy: bad input', () => {
  const h = randn([2, 3, 4]);
  const W = randn([5, 4]);
  const t = tensor([[0, 1, 2], [3, 4, 1]], { dtype: 'int32' });
  const lce = F.linearCrossEntropy;
  it('a target out of range names its position in the target, on either path', () => {
    const bad = tensor([[0, 1, 2], [3, 4, 7]], { dtype: 'int32' });
    for (const chunkSize of [1, 4, 100]) {
      expect(() => lce(h, W, bad, { chunkSize })).toThrow(IndexError);
      expect(() => lce(h, W, bad, { chunkSize })).toThrow('linearCrossEntropy: target 7 is out of range for 5 classes (at target index [1, 2]); expected a class in [0, 5) or ignoreIndex (-100)');
    }
    const hg = h.clone().requiresGrad_();
    expect(() => lce(hg, W, bad, { reduction: 'none' })).toThrow('at target index [1, 2]');
  });
  it('shapes, dtypes and options', () => {
    expect(() => lce(h, randn([5, 3]), t)).toThrow(ShapeError);
    expect(() => lce(h, randn([5, 3]), t)).toThrow("linearCrossEntropy: weight must have shape [V, 4] (a Linear's weight from the input's 4 features to V classes); got [5, 3] for input [2, 3, 4]");
    expect(() => lce(h, W, tensor([0, 1], { dtype: 'int32' }))).toThrow("linearCrossEntropy: target must have the input's shape without its last dim, [2, 3] (input [2, 3, 4]); got [2]");
    expect(() => lce(h, W, t.cast('float32'))).toThrow(DTypeError);
    expect(() => lce(h, W, t.cast('float32'))).toThrow('for class probabilities, compute the logits and use crossEntropy');
    expect(() => lce(h, W, t, { bias: zeros([4]) })).toThrow('linearCrossEntropy: bias must have shape [5] (one per class of weight [5, 4]); got [4]');
    expect(() => lce(h, W, t, { weight: zeros([5], { dtype: 'float64' }) })).toThrow('linearCrossEntropy: class weight must have the input\'s dtype float32; got float64');
    expect(() => lce(h, W.cast('float64'), t)).toThrow('linearCrossEntropy: weight must have the input\'s dtype float32; got float64');
    expect(() => lce(t, W, t)).toThrow('linearCrossEntropy: input must be floating point; got a int32 input of shape [2, 3]');
    expect(() => lce(h, W, t, { chunkSize: 0 })).toThrow(ValueError);
    expect(() => lce(h, W, t, { reduction: 'avg' as 'mean' })).toThrow("linearCrossEntropy: reduction must be 'none', 'mean', 'sum'; got \"avg\"");
    expect(() => lce(h, W, t, { labelSmoothing: 1.5 })).toThrow('linearCrossEntropy: labelSmoothing must be a number in [0, 1]; got 1.5');
  });
  it('a class weight that requires grad fails at backward, as crossEntropy', () => {
    const hg = h.clone().requiresGrad_();
    const loss = lce(hg, W, t, { weight: rand([5]).requiresGrad_() });
    expect(() => loss.backward()).toThrow(TapegradError);
  });
});
