import '@tapegrad/backend-cpu';
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
});
