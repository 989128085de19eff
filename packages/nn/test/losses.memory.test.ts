import '@tapegrad/backend-cpu';
import { noGrad } from '@tapegrad/autograd';
import { memory, randint, randn, tidy } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';

// The fused ops' extra outputs (stats, totalWeight) and what their backward saves must not
// outlive a training step.
describe('losses hold live memory flat', () => {
  it('over steps of forward and backward', () => {
    const x = randn([8, 5]).requiresGrad_();
    const t = randint(0, 5, [8], { dtype: 'int32' });
    const step = () => {
      tidy(() => {
        F.crossEntropy(x, t, { labelSmoothing: 0.1, reduction: 'sum' }).backward();
        F.nllLoss(F.logSoftmax(x, 1), t, { reduction: 'none' }).sum().backward();
        F.crossEntropy(x, F.softmax(x.detach(), 1)).backward();
        F.binaryCrossEntropyWithLogits(x, F.softmax(x.detach(), 1), { posWeight: randn([5]).abs() }).backward();
        F.crossEntropy(x.detach(), t); // no graph: the extra outputs are freed at once
      });
      x.grad!.dispose();
      x.grad = null;
    };
    step();
    const before = memory();
    for (let i = 0; i < 5; i++) step();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().bytes).toBe(before.bytes);
  });

  // the backward scales the forward's exps instead of computing them again: N·C values kept
  // from the forward to the backward, where a gradient will be taken, and no longer
  it("crossEntropy keeps its forward's exps until the backward, only where a gradient will be taken", () => {
    const [N, C] = [16, 50];
    const x = randn([N, C]).requiresGrad_();
    const t = randint(0, C, [N], { dtype: 'int32' });
    const b0 = memory().bytes;
    const loss = F.crossEntropy(x, t);
    // the loss, and for the backward the stats (N x 2), the total weight and the exps (N x C)
    expect(memory().bytes - b0).toBe(4 + N * 2 * 4 + 4 + N * C * 4);
    const b1 = memory().bytes;
    tidy(() => {
      F.crossEntropy(x.detach(), t);
      noGrad(() => F.crossEntropy(x, t));
      expect(memory().bytes - b1).toBe(2 * 4); // two losses, nothing kept
    });
    loss.backward();
    // the loss and x.grad (N x C) left, and at most a few scalars: the exps and stats are freed
    expect(memory().bytes - b0).toBeLessThan(4 + N * C * 4 + 16);
    loss.dispose();
    x.grad!.dispose();
  });
});
