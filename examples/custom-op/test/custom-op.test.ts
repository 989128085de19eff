import { DTypeError, gradcheck, memory, ShapeError, tensor, ValueError, type Tensor } from 'tapegrad';
import { describe, expect, it } from 'vitest';
import { logCoshLoss } from '../src/log-cosh-loss.js';
import { silu, siluBackward } from '../src/silu.js';
import { trainMnist } from '../src/mnist.js';
import { train } from '../src/train.js';

const f64 = (data: number[], requiresGrad = true) => tensor(data, { dtype: 'float64', requiresGrad });
const close = (t: Tensor, expected: number[], digits = 12) => Array.from(t.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, digits));

// References are the textbook formulas evaluated with Math, independently of the kernels.
const xs = [-800, -20, -1.5, -0.25, 0, 0.25, 1.5, 20, 800];
const sig = (x: number) => 1 / (1 + Math.exp(-x));

describe('silu (kernel op)', () => {
  it('matches x * sigmoid(x), without overflow at the extremes', () => {
    close(silu(f64(xs, false)), xs.map((x) => x * sig(x)));
    close(silu(tensor(xs)), xs.map((x) => x * sig(x)), 4);
  });
  it('backward kernel matches s * (1 + x (1 - s))', () => {
    const g = xs.map((_, i) => i - 4);
    close(siluBackward(f64(xs, false), f64(g, false)), xs.map((x, i) => g[i]! * sig(x) * (1 + x * (1 - sig(x)))));
  });
  it('passes gradcheck, including on a non-contiguous input', () => {
    expect(gradcheck(silu, [f64([-3, -0.5, 0, 0.7, 4])])).toBe(true);
    expect(gradcheck((x) => silu(x.T), [tensor([[0.3, -1], [2, -0.2]], { dtype: 'float64', requiresGrad: true })])).toBe(true);
  });
  it('rejects integer input and mismatched gradients', () => {
    expect(() => silu(tensor([1], { dtype: 'int32' }))).toThrow(new DTypeError('silu: expected a float32 or float64 tensor; got int32'));
    expect(() => siluBackward(tensor([1, 2]), tensor([1]))).toThrow(new ShapeError('siluBackward: grad has shape [1] but input has shape [2]'));
  });
});

describe('logCoshLoss (composite op)', () => {
  const input = [0.5, -2, 3, 100];
  const target = [0, 1, 3.5, -900];
  const per = input.map((v, i) => {
    const d = Math.abs(v - target[i]!);
    return d < 20 ? Math.log(Math.cosh(d)) : d - Math.LN2; // cosh(1000) overflows; the asymptote is exact there in float64
  });
  it('matches log(cosh(input - target)) for every reduction, and stays finite far away', () => {
    const [a, b] = [f64(input, false), f64(target, false)];
    close(logCoshLoss(a, b, { reduction: 'none' }), per);
    close(logCoshLoss(a, b, { reduction: 'sum' }), [per.reduce((s, v) => s + v)], 9);
    close(logCoshLoss(a, b), [per.reduce((s, v) => s + v) / per.length], 9);
  });
  it('passes gradcheck for every reduction', () => {
    for (const reduction of ['none', 'sum', 'mean'] as const) {
      expect(gradcheck((a, b) => logCoshLoss(a, b, { reduction }), [f64([-2, 0.1, 30]), f64([1, 0.2, -1])])).toBe(true);
    }
  });
  it('errors name the op and the problem', () => {
    expect(() => logCoshLoss(tensor([1, 2]), tensor([1]))).toThrow(new ShapeError('logCoshLoss: input has shape [2] but target has shape [1]; they must match'));
    expect(() => logCoshLoss(tensor([1]), tensor([1]), { reduction: 'avg' as never })).toThrow(new ValueError("logCoshLoss: reduction must be 'mean', 'sum' or 'none'; got 'avg'"));
  });
});

describe('training a small model with both ops', () => {
  it('lowers the loss, fits the noise-free function and holds memory flat', () => {
    const before = memory();
    const { losses, cleanError } = train({ steps: 120 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    expect(cleanError).toBeLessThan(0.15);
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().bytes).toBeLessThanOrEqual(before.bytes); // earlier tests' leftovers may be collected meanwhile
  });
});

describe('a slice of MNIST with the fused SiLU', () => {
  it('learns (test accuracy far above chance) and holds memory flat', async () => {
    const before = memory();
    const { losses, accuracies } = await trainMnist({ trainSize: 500, testSize: 300, epochs: 2 });
    expect(losses[1]!).toBeLessThan(losses[0]!);
    expect(accuracies.at(-1)!).toBeGreaterThan(0.6);
    // earlier tests' leftovers may be collected while it awaits (the finalizer uncounts them too)
    expect(memory().tensors).toBeLessThanOrEqual(before.tensors);
    expect(memory().bytes).toBeLessThanOrEqual(before.bytes);
  });
});
