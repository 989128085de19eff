import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import * as tg from '@tapegrad/tensor';
import { enableGrad, isGradEnabled, noGrad, registerGradient } from '../src/index.js';

const vals = (t: tg.Tensor | null) => Array.from(t!.dataSync());

describe('the tape', () => {
  it('accumulates over every use of a tensor (fan-out)', () => {
    const x = tg.tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d/dx (x^2 + x) = 2x + 1
    expect(vals(x.grad)).toEqual([3, 5, 7]);
  });
  it('accumulates into .grad across backward calls, as PyTorch', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(vals(x.grad)).toEqual([6, 6]);
  });
  it('reduces broadcast gradients to the input shapes', () => {
    const a = tg.ones([2, 3], { requiresGrad: true });
    const b = tg.ones([3], { requiresGrad: true });
    const c = tg.ones([], { requiresGrad: true });
    a.add(b).mul(c).sum().backward();
    expect(b.grad!.shape).toEqual([3]);
    expect(vals(b.grad)).toEqual([2, 2, 2]);
    expect(c.grad!.shape).toEqual([]);
    expect(vals(c.grad)).toEqual([12]);
  });
  it('takes an explicit gradient for non-scalar outputs', () => {
    const x = tg.tensor([1, 2, 3], { requiresGrad: true });
    x.mul(2).backward(tg.tensor([1, 10, 100]));
    expect(vals(x.grad)).toEqual([2, 20, 200]);
  });
  it('leaves the caller\'s gradient usable, also where a rule passes it straight through', () => {
    const x = tg.tensor([1, 2, 3], { requiresGrad: true });
    const g = tg.tensor([1, 10, 100]);
    x.add(x.mul(2)).add(1).backward(g); // add's rule hands g on to both inputs unchanged
    expect(vals(x.grad)).toEqual([3, 30, 300]);
    expect(g.isDisposed).toBe(false);
    expect(vals(g)).toEqual([1, 10, 100]);
  });
  it('one grad passed to several inputs stays alive until the last of them is done', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const a = x.exp(), b = x.mul(3);
    a.add(b).add(a.mul(b)).sum().backward(); // d/dx = e^x + 3 + 3x·e^x + 3e^x
    const want = [1, 2].map((v) => Math.exp(v) + 3 + 3 * v * Math.exp(v) + 3 * Math.exp(v));
    vals(x.grad).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
  });
  it('a transposed matmul operand (linear\'s weight) gets a contiguous grad in its own layout', () => {
    const w = tg.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true }); // [out 2, in 3]
    const x = tg.tensor([[1, 0, 2], [0, 1, 1]]);
    const g = tg.tensor([[1, 2], [3, 4]]);
    x.matmul(w.transpose(0, 1)).backward(g); // dW = gᵀ·x
    expect(w.grad!.isContiguous()).toBe(true);
    expect(w.grad!.storage).not.toBe(g.storage);
    expect(vals(w.grad)).toEqual([1, 3, 5, 2, 4, 8]);
  });
  it('retainGraph lets backward run twice', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(vals(x.grad)).toEqual([2 * Math.E, 2 * Math.exp(2)].map(Math.fround));
  });
  it('computes only the gradients that are needed', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const k = tg.tensor([5, 7]);
    x.mul(k).sum().backward();
    expect(k.grad).toBeNull();
    expect(k.requiresGrad).toBe(false);
    expect(vals(x.grad)).toEqual([5, 7]);
  });
  it('non-differentiable outputs do not require grad', () => {
    const x = tg.tensor([1, 3, 2], { requiresGrad: true });
    expect(x.argmax().requiresGrad).toBe(false);
    expect(x.gt(1).requiresGrad).toBe(false);
    expect(x.exp().requiresGrad).toBe(true);
    expect(x.exp().gradFn?.op).toBe('exp');
  });
  it('noGrad records nothing; enableGrad turns recording back on', () => {
    const x = tg.ones([2], { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      const inner = enableGrad(() => x.mul(2));
      expect(inner.requiresGrad).toBe(true);
      return x.mul(2);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
  });
  it('detach cuts the graph and shares storage', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const d = x.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    const y = x.mul(d).sum();
    y.backward();
    expect(vals(x.grad)).toEqual([2, 4]);
  });
  it('requiresGrad_ cannot be turned off on a non-leaf', () => {
    const y = tg.ones([2], { requiresGrad: true }).mul(2);
    expect(() => y.requiresGrad_(false)).toThrow(/non-leaf/);
  });
  it('a deep chain does not overflow the stack (iterative topological sort)', () => {
    const x = tg.tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 5000; i++) y = y.add(1);
    y.sum().backward();
    expect(vals(x.grad)).toEqual([1]);
  });
  it('gradient rules must return one gradient of the right shape per input', () => {
    tg.defineOp({ name: 'test.twoGrads', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
    tg.registerKernel('test.twoGrads', 'cpu', (([x]: { handle: Float32Array }[], [o]: { handle: Float32Array }[]) => o!.handle.set(x!.handle)) as never);
    registerGradient('test.twoGrads', { backward: (_, [g]) => [g, g] });
    const x = tg.ones([2], { requiresGrad: true });
    expect(() => tg.run('test.twoGrads', [x]).sum().backward()).toThrow(/the gradient rule of 'test.twoGrads' returned 2 gradients for 1 inputs/);
    tg.defineOp({ name: 'test.badShape', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
    tg.registerKernel('test.badShape', 'cpu', (([x]: { handle: Float32Array }[], [o]: { handle: Float32Array }[]) => o!.handle.set(x!.handle)) as never);
    registerGradient('test.badShape', { backward: (_, [g]) => [g!.sum()] });
    expect(() => tg.run('test.badShape', [x]).sum().backward()).toThrow(/returned a gradient of shape \[\] for input 0 of shape \[2\]/);
  });
  it("an unused output's zero gradient is made only if the rule reads it", () => {
    // test.aux: y = 2x and a large auxiliary output, the sort crossEntropy's saved exps are
    tg.defineOp({ name: 'test.aux', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }, { shape: [1000, 1000], dtype: x!.dtype }] });
    tg.registerKernel('test.aux', 'cpu', (([x]: { handle: Float32Array }[], [o]: { handle: Float32Array }[]) => void o!.handle.set(x!.handle.map((v) => 2 * v))) as never);
    let read = false;
    registerGradient('test.aux', {
      backward: (_, grads) => {
        const g = read ? grads[1]!.sum().add(grads[0]!).mul(2) : grads[0]!.mul(2);
        return [g];
      },
    });
    const x = tg.ones([2], { requiresGrad: true });
    const peakOfBackward = () => {
      const [y, aux] = tg.dispatch('test.aux', [x]);
      aux!.dispose();
      const loss = y!.sum();
      tg.resetPeakMemory();
      const before = tg.memory().bytes;
      loss.backward();
      const peak = tg.memory().peakBytes - before;
      loss.dispose();
      y!.dispose();
      x.grad!.dispose();
      x.grad = null;
      return peak;
    };
    const start = tg.memory().bytes;
    expect(peakOfBackward()).toBeLessThan(1000);
    read = true; // the rule reads it: zeros of its shape, 4 MB
    expect(peakOfBackward()).toBeGreaterThanOrEqual(4e6);
    expect(tg.memory().bytes).toBe(start); // and frees them
  });
  it('an op without a gradient rule fails at backward, naming it', () => {
    tg.defineOp({ name: 'test.noRule', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
    tg.registerKernel('test.noRule', 'cpu', (([x]: { handle: Float32Array }[], [o]: { handle: Float32Array }[]) => o!.handle.set(x!.handle)) as never);
    const y = tg.run('test.noRule', [tg.ones([2], { requiresGrad: true })]).sum();
    expect(() => y.backward()).toThrow(/op 'test.noRule' has no gradient rule registered/);
  });
});

describe('memory', () => {
  it('a 200-step training loop inside tidy keeps memory() flat', () => {
    tg.manualSeed(0);
    const w1 = tg.randn([8, 16]).mul(0.3).detach().requiresGrad_();
    const b1 = tg.zeros([16], { requiresGrad: true });
    const w2 = tg.randn([16, 3]).mul(0.3).detach().requiresGrad_();
    const params = [w1, b1, w2];
    const x = tg.randn([32, 8]);
    const y = tg.randint(0, 3, [32]);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 200; step++) {
      tg.tidy(() => {
        const logits = x.matmul(w1).add(b1).relu().matmul(w2);
        const loss = logits.logSoftmax(1).gather(1, y.unsqueeze(1)).mean().neg();
        for (const p of params) {
          p.grad?.dispose();
          p.grad = null;
        }
        loss.backward();
        noGrad(() => {
          for (const p of params) p.sub_(p.grad!.mul(0.1));
        });
        losses.push(loss.itemSync());
      });
      counts.push(tg.memory().tensors, tg.memory().bytes);
      if (step === 10) counts.length = 0; // measure from a warmed-up state
    }
    expect(new Set(counts.filter((_, i) => i % 2 === 0)).size).toBe(1);
    expect(new Set(counts.filter((_, i) => i % 2 === 1)).size).toBe(1);
    expect(losses[199]!).toBeLessThan(losses[0]! * 0.5);
  });
  it('scope() disposes across an await with `using`', async () => {
    let made: tg.Tensor[];
    let kept: tg.Tensor;
    {
      using s = tg.scope();
      const a = tg.ones([4]);
      await new Promise((r) => setTimeout(r, 1));
      const b = a.add(1);
      kept = s.keep(b.mul(2));
      made = [a, b];
    }
    // disposal checked tensor by tensor: over the event-loop turn, the finalizer may uncount earlier tests' garbage
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(vals(kept)).toEqual([4, 4, 4, 4]);
    const before = tg.memory().tensors;
    kept.dispose();
    expect(tg.memory().tensors).toBe(before - 1);
  });
  it('backward frees its intermediates and saved tensors', () => {
    const x = tg.randn([4, 4], { requiresGrad: true });
    const baseline = tg.memory().tensors;
    tg.tidy(() => x.matmul(x).exp().logSoftmax(1).sum().backward());
    // only x.grad is new
    expect(tg.memory().tensors).toBe(baseline + 1);
  });
});
