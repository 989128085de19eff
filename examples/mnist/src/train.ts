import { argmax, data, eq, manualSeed, nn, noGrad, optim, sum, tidy, type Device, type Tensor } from 'tapegrad';
import { makeModel, type ModelName } from './models.js';

export interface Split {
  /** float32 [N, 1, 28, 28], normalised. */
  images: Tensor;
  /** int32 [N]. */
  labels: Tensor;
}
export interface TrainOptions {
  model: ModelName;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'sgd' | 'adam';
  seed: number;
  device?: Device;
  train: Split;
  test: Split;
  /** Read the loss back every this many steps (a device sync; default 20). */
  lossEvery?: number;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
}
export interface StepInfo {
  epoch: number;
  step: number;
  steps: number;
  /** Mean of the losses read back so far this epoch. */
  loss: number;
  samplesPerSecond: number;
  etaSeconds: number;
}
export interface EpochInfo {
  epoch: number;
  trainLoss: number;
  testAccuracy: number;
  seconds: number;
}
export interface History {
  /** (global step, loss) for every loss read back. */
  losses: [number, number][];
  epochs: EpochInfo[];
}

export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  return tidy(() => logits.logSoftmax(1).gather(1, target.unsqueeze(1)).mean().neg());
}

/** The fraction of `split` the model classifies correctly (eval mode, no gradients). */
export async function evaluate(model: nn.Module, split: Split, batchSize = 1000): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  const n = split.images.shape[0]!;
  for (let start = 0; start < n; start += batchSize) {
    const len = Math.min(batchSize, n - start);
    const hits = noGrad(() => tidy(() => sum(eq(argmax(model.forward(split.images.narrow(0, start, len)), 1), split.labels.narrow(0, start, len)))));
    correct += await hits.item();
    hits.dispose();
  }
  model.train(wasTraining);
  return correct / n;
}

export function makeOptimizer(name: 'sgd' | 'adam', model: nn.Module, lr: number): optim.Optimizer<{ lr: number }> {
  return name === 'sgd' ? new optim.SGD(model.parameters(), { lr, momentum: 0.9 }) : new optim.Adam(model.parameters(), { lr });
}

/**
 * Train on `train` with a one-cycle schedule peaking at `lr`, evaluating on `test` after every
 * epoch. Each step runs in tidy(), so memory stays flat; the loss is read back (a device sync)
 * only every `lossEvery` steps.
 */
export async function train(o: TrainOptions): Promise<{ model: nn.Module; history: History }> {
  manualSeed(o.seed);
  const model = makeModel(o.model).to(o.device ?? 'cpu');
  const opt = makeOptimizer(o.optimizer, model, o.lr);
  const loader = new data.DataLoader(new data.TensorDataset(o.train.images, o.train.labels), { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const n = loader.dataset.length;
  const steps = loader.length;
  const schedule = new optim.OneCycleLR(opt, { maxLr: o.lr, totalSteps: steps * o.epochs });
  const lossEvery = o.lossEvery ?? 20;
  const history: History = { losses: [], epochs: [] };
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let lossCount = 0;
    let step = 0;
    for (const batch of loader) {
      const loss = tidy(() => {
        const [x, y] = batch;
        const l = crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        return l;
      });
      batch[Symbol.dispose]();
      schedule.step();
      step++;
      if (step % lossEvery === 0 || step === steps) {
        const v = await loss.item();
        lossSum += v;
        lossCount++;
        history.losses.push([(epoch - 1) * steps + step, v]);
        const elapsed = (performance.now() - t0) / 1000;
        const done = Math.min(n, step * o.batchSize);
        o.onStep?.({ epoch, step, steps, loss: lossSum / lossCount, samplesPerSecond: done / elapsed, etaSeconds: (elapsed / step) * (steps - step) });
      }
      loss.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    const info = { epoch, trainLoss: lossSum / lossCount, testAccuracy: await evaluate(model, o.test), seconds };
    history.epochs.push(info);
    o.onEpoch?.(info);
  }
  opt.zeroGrad();
  return { model, history };
}
