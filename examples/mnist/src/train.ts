import { amp, argmax, autocast, compile, data, eq, getBackend, hasKernel, manualSeed, nn, noGrad, optim, sum, tidy, type CompiledStats, type Device, type Tensor } from 'tapegrad';
import { makeModel, type ModelName } from './models.js';

/**
 * A data split. It may live on another device than the model (main.ts keeps both splits on the
 * CPU: MNIST's training split is more than one WebGPU buffer binding holds on many adapters); each
 * batch then moves to the model's device as it is used, as a PyTorch loop calls `.to(device)`.
 */
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
  /** Run the training step through `compile`: traced once, then replayed (default false). */
  compile?: boolean;
  /**
   * Mixed precision (default false): the forward and the loss under `autocast` (float16 on
   * WebGPU, bfloat16 on the CPU), the loss scaled by a GradScaler whose step skips a step with an
   * inf or NaN gradient; evaluation under autocast too. With `compile`, the forward and backward
   * are compiled and the scaler's step (which reads its inf check) runs eagerly after them.
   */
  amp?: boolean;
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

/**
 * Cross-entropy: the fused op where the device has its kernel, else the same loss from core
 * ops (logSoftmax, gather, mean), which every backend runs.
 */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  if (hasKernel('crossEntropy', logits.device)) return nn.functional.crossEntropy(logits, target);
  return tidy(() => logits.logSoftmax(1).gather(1, target.unsqueeze(1)).mean().neg());
}

/** The fraction of `split` the model classifies correctly (eval mode, no gradients; under autocast with `amp`). */
export async function evaluate(model: nn.Module, split: Split, batchSize = 1000, amp = false): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  const n = split.images.shape[0]!;
  const device = model.parameters()[0]?.device ?? split.images.device;
  for (let start = 0; start < n; start += batchSize) {
    const len = Math.min(batchSize, n - start);
    const hits = noGrad(() =>
      autocast({ device, enabled: amp }, () =>
        tidy(() => sum(eq(argmax(model.forward(split.images.narrow(0, start, len).to(device)), 1), split.labels.narrow(0, start, len).to(device)))),
      ),
    );
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
 * epoch. Each step runs in tidy() (or compiled, which frees what it made as tidy does), so memory
 * stays flat; the loss is read back (a device sync) only every `lossEvery` steps.
 */
export async function train(o: TrainOptions): Promise<{ model: nn.Module; history: History; compiled?: CompiledStats; scale?: number }> {
  manualSeed(o.seed);
  const model = makeModel(o.model).to(o.device ?? 'cpu');
  const opt = makeOptimizer(o.optimizer, model, o.lr);
  const loader = new data.DataLoader(new data.TensorDataset(o.train.images, o.train.labels), { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const n = loader.dataset.length;
  const steps = loader.length;
  const schedule = new optim.OneCycleLR(opt, { maxLr: o.lr, totalSteps: steps * o.epochs });
  const lossEvery = o.lossEvery ?? 20;
  const history: History = { losses: [], epochs: [] };
  const device = o.device ?? 'cpu';
  const step = (x: Tensor, y: Tensor) => {
    const l = crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    l.backward();
    opt.step();
    return l;
  };
  // amp: the forward under autocast (parameters stay float32), the scaled loss's backward; the
  // scaler's step unscales the gradients, reads whether they are finite and steps or skips
  const scaler = o.amp ? new amp.GradScaler() : undefined;
  const forwardBackward = (x: Tensor, y: Tensor) => {
    const l = autocast({ device }, () => crossEntropy(model.forward(x), y));
    opt.zeroGrad();
    scaler!.scale(l).backward();
    return l;
  };
  const scalerStep = async () => {
    if (getBackend(device).readSync) scaler!.step(opt);
    else await scaler!.stepAsync(opt);
    scaler!.update();
  };
  const compiled = o.compile ? compile(scaler ? forwardBackward : step) : undefined;
  const eager = scaler ? (x: Tensor, y: Tensor) => tidy(() => forwardBackward(x, y)) : (x: Tensor, y: Tensor) => tidy(() => step(x, y));
  const runStep = compiled ?? eager;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let lossCount = 0;
    let step = 0;
    for (const batch of loader) {
      // a split kept off the device: this batch's copy on it, the compiled step's arguments
      const x = batch[0].to(device);
      const y = batch[1].to(device);
      const loss = runStep(x, y);
      if (x !== batch[0]) x.dispose();
      if (y !== batch[1]) y.dispose();
      batch[Symbol.dispose]();
      if (scaler) await scalerStep();
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
    const info = { epoch, trainLoss: lossSum / lossCount, testAccuracy: await evaluate(model, o.test, 1000, o.amp), seconds };
    history.epochs.push(info);
    o.onEpoch?.(info);
  }
  opt.zeroGrad();
  const stats = compiled?.stats();
  compiled?.reset();
  return { model, history, compiled: stats, scale: scaler?.getScale() };
}
