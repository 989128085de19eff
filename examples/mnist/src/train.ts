import { Generator, argmax, eq, indexSelect, manualSeed, nn, noGrad, optim, sum, tensor, tidy, type Device, type Tensor } from 'tapegrad';
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
  const n = o.train.images.shape[0]!;
  const steps = Math.ceil(n / o.batchSize);
  const schedule = new optim.OneCycleLR(opt, { maxLr: o.lr, totalSteps: steps * o.epochs });
  const lossEvery = o.lossEvery ?? 20;
  const shuffler = new Generator(o.seed);
  const history: History = { losses: [], epochs: [] };
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const order = permutation(n, shuffler);
    const t0 = performance.now();
    let lossSum = 0;
    let lossCount = 0;
    for (let step = 0; step < steps; step++) {
      const idx = order.subarray(step * o.batchSize, Math.min(n, (step + 1) * o.batchSize));
      const loss = tidy(() => {
        const batch = tensor(idx, { dtype: 'int32', device: o.train.images.device });
        const x = indexSelect(o.train.images, 0, batch);
        const y = indexSelect(o.train.labels, 0, batch);
        const l = crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        return l;
      });
      schedule.step();
      if (step % lossEvery === lossEvery - 1 || step === steps - 1) {
        const v = await loss.item();
        lossSum += v;
        lossCount++;
        history.losses.push([(epoch - 1) * steps + step + 1, v]);
        const elapsed = (performance.now() - t0) / 1000;
        const done = Math.min(n, (step + 1) * o.batchSize);
        o.onStep?.({ epoch, step: step + 1, steps, loss: lossSum / lossCount, samplesPerSecond: done / elapsed, etaSeconds: (elapsed / (step + 1)) * (steps - step - 1) });
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

function permutation(n: number, g: Generator): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = g.int(0, i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}
