import { describe, expect, it } from 'vitest';
import { data, memory } from 'tapegrad';
import { train } from '../src/train.js';

describe('training on an MNIST subset', () => {
  it('learns: the loss falls and test accuracy clears 85%', async () => {
    const trainSet = await data.loadMnist({ split: 'train', normalize: true, limit: 2000 });
    const testSet = await data.loadMnist({ split: 'test', normalize: true, limit: 1000 });
    const before = memory().tensors;
    const epochs: number[] = [];
    const { model, history } = await train({
      model: 'mlp', optimizer: 'adam', lr: 0.002, epochs: 2, batchSize: 20, seed: 1, lossEvery: 10,
      train: trainSet, test: testSet, onEpoch: (e) => epochs.push(e.testAccuracy),
    });
    const losses = history.losses.map(([, l]) => l);
    expect(losses.length).toBe(20);
    expect(losses[0]!).toBeGreaterThan(1);
    expect(Math.max(...losses.slice(-5))).toBeLessThan(losses[0]! / 3);
    expect(epochs[1]!).toBeGreaterThan(0.85);
    // one model's parameters and the optimizer state remain; nothing per step leaks
    model.dispose();
    expect(memory().tensors - before).toBeLessThan(10);
  });
});
