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
  it('--amp (autocast bfloat16 + GradScaler, CPU) learns as float32 does; --compile gives the same losses bit for bit', async () => {
    const trainSet = await data.loadMnist({ split: 'train', normalize: true, limit: 600 });
    const testSet = await data.loadMnist({ split: 'test', normalize: true, limit: 500 });
    for (const model of ['mlp', 'cnn'] as const) {
      const run = (amp: boolean, compile = false) =>
        train({ model, optimizer: 'adam', lr: 0.002, epochs: 1, batchSize: 32, seed: 3, lossEvery: 1, amp, compile, train: trainSet, test: testSet });
      const f32 = await run(false);
      const amp = await run(true);
      const ampCompiled = await run(true, true);
      const losses = amp.history.losses.map(([, l]) => l);
      // bfloat16 rounding makes the losses differ from float32's, but not by much, and they fall as float32's do
      expect(losses).not.toEqual(f32.history.losses.map(([, l]) => l));
      f32.history.losses.forEach(([, l], i) => expect(Math.abs(losses[i]! - l), `step ${i}`).toBeLessThan(0.01 + 0.01 * l));
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
      expect(mean(losses.slice(-4))).toBeLessThan(0.85 * losses[0]!);
      expect(Math.abs(amp.history.epochs[0]!.testAccuracy - f32.history.epochs[0]!.testAccuracy)).toBeLessThan(0.03);
      // bfloat16 keeps float32's range: no step overflowed, the scale stayed where it started
      expect(amp.scale).toBe(65536);
      expect(ampCompiled.history.losses).toEqual(amp.history.losses);
      expect(ampCompiled.compiled!.replays).toBeGreaterThan(10);
      for (const r of [f32, amp, ampCompiled]) {
        for (const p of r.model.parameters()) expect(p.dtype).toBe('float32');
        r.model.dispose();
      }
    }
  });
  it('--compile trains to the same losses and accuracy as eager, bit for bit (CPU)', async () => {
    const trainSet = await data.loadMnist({ split: 'train', normalize: true, limit: 600 });
    const testSet = await data.loadMnist({ split: 'test', normalize: true, limit: 500 });
    for (const model of ['mlp', 'cnn'] as const) {
      const run = (compile: boolean) =>
        train({ model, optimizer: 'sgd', lr: 0.05, epochs: 1, batchSize: 32, seed: 2, lossEvery: 1, compile, train: trainSet, test: testSet });
      const eager = await run(false);
      const compiled = await run(true);
      // 19 steps, the last of 24 images: every loss read back, and the test accuracy after the epoch
      expect(compiled.history.losses.length).toBe(19);
      expect(compiled.history.losses).toEqual(eager.history.losses);
      expect(compiled.history.epochs[0]!.testAccuracy).toBe(eager.history.epochs[0]!.testAccuracy);
      // the first step makes the optimizer's state, the second and the short last one trace: the rest replay
      expect([compiled.compiled!.traces, compiled.compiled!.replays]).toEqual([3, 16]);
      eager.model.dispose();
      compiled.model.dispose();
    }
  });
});
