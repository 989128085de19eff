import { data, manualSeed, nn, noGrad, optim, tensor, tidy, type Device, type Tensor } from 'tapegrad';
import { unigramLoss, type Corpus } from './corpus.js';
import { makeModel, type CharModel, type ModelConfig } from './models.js';

export interface TrainOptions {
  /** The model's shape; the vocabulary size comes from the corpus. */
  config: Omit<ModelConfig, 'vocabSize'>;
  corpus: Corpus;
  steps: number;
  batchSize: number;
  /** Peak learning rate, reached after the warm-up; the cosine then takes it down to lr/10. */
  lr: number;
  warmup: number;
  weightDecay: number;
  /** Largest gradient norm; larger gradients are scaled down to it. */
  clip: number;
  seed: number;
  device?: Device;
  /** Validate every this many steps (and after the last). */
  evalEvery: number;
  /** How many validation windows of `context` characters to score (default 512). */
  evalWindows?: number;
  /** Read the training loss back every this many steps (a device sync; default 10). */
  lossEvery?: number;
  onStep?: (s: StepInfo) => void;
  onEval?: (e: { step: number; valLoss: number }) => void;
}
export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
  etaSeconds: number;
}
export interface History {
  /** (step, training loss) for every loss read back. */
  train: [number, number][];
  /** (step, validation loss). */
  val: [number, number][];
}
export interface TrainResult {
  model: CharModel;
  history: History;
  /** Nats per character on the validation windows, after the last step. */
  valLoss: number;
  /** The unigram baseline on the same characters. */
  baseline: number;
  /** Seconds spent in training steps (validation excluded). */
  trainSeconds: number;
  tokensPerSecond: number;
}

/**
 * Windows of `context` + 1 characters (the inputs, and the same shifted by one as the targets),
 * starting every `context` characters: [count, context + 1].
 */
export function windows(ids: Int32Array, context: number, limit = Infinity, device?: Device): Tensor {
  const count = Math.min(limit, Math.floor((ids.length - 1) / context));
  if (count < 1) throw new Error(`windows: ${ids.length} characters do not fill one window of ${context} + 1`);
  const out = new Int32Array(count * (context + 1));
  for (let w = 0; w < count; w++) out.set(ids.subarray(w * context, w * context + context + 1), w * (context + 1));
  return tensor(out, { shape: [count, context + 1], dtype: 'int32', device });
}

/** Mean next-character cross-entropy (nats) of `model` over `wins` [count, context + 1], in eval mode. */
export async function evaluate(model: CharModel, wins: Tensor, batchSize = 64): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  const [count, width] = wins.shape as [number, number];
  let total = 0;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const sum = noGrad(() =>
      tidy(() => {
        const w = wins.narrow(0, start, n);
        const logits = model.forward(w.narrow(1, 0, width - 1));
        return nn.functional.crossEntropy(logits.reshape(-1, model.config.vocabSize), w.narrow(1, 1, width - 1).reshape(-1), { reduction: 'sum' });
      }),
    );
    total += await sum.item();
    sum.dispose();
  }
  model.train(wasTraining);
  return total / (count * (width - 1));
}

/** AdamW with weight decay on the matrices only (decaying biases and norm gains only hurts). */
export function makeOptimizer(model: nn.Module, lr: number, weightDecay: number): optim.AdamW {
  const params = model.parameters();
  return new optim.AdamW(
    [
      { params: params.filter((p) => p.ndim >= 2), weightDecay },
      { params: params.filter((p) => p.ndim < 2), weightDecay: 0 },
    ],
    { lr, betas: [0.9, 0.99] },
  );
}

/** A linear warm-up to `lr` over `warmup` steps, then a cosine down to lr/10 at `steps`. */
export function makeSchedule(opt: optim.Optimizer<{ lr: number }>, lr: number, warmup: number, steps: number): optim.LRScheduler {
  if (warmup === 0) return new optim.CosineAnnealingLR(opt, { tMax: steps, etaMin: lr / 10 });
  return new optim.SequentialLR(opt, {
    schedulers: [
      new optim.LinearLR(opt, { startFactor: 1 / warmup, totalIters: warmup }),
      new optim.CosineAnnealingLR(opt, { tMax: Math.max(1, steps - warmup), etaMin: lr / 10 }),
    ],
    milestones: [warmup],
  });
}

/**
 * One training step on a batch of windows [batch, context + 1]: next-character cross-entropy,
 * backward, gradient clipping, AdamW. Runs in tidy(), so its activations and gradients are freed
 * when it ends; returns the loss (the caller disposes it).
 */
export function makeStep(model: CharModel, opt: optim.Optimizer<{ lr: number }>, clip: number): (batch: Tensor) => Tensor {
  const { context: T, vocabSize } = model.config;
  return (batch) =>
    tidy(() => {
      const logits = model.forward(batch.narrow(1, 0, T));
      const loss = nn.functional.crossEntropy(logits.reshape(-1, vocabSize), batch.narrow(1, 1, T).reshape(-1));
      opt.zeroGrad();
      loss.backward();
      optim.clipGradNorm(model.parameters(), clip);
      opt.step();
      return loss;
    });
}

/**
 * Train a character model on shuffled windows of the corpus, validating as it goes. The loss is
 * read back only every `lossEvery` steps, since each read waits for the device.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  manualSeed(o.seed);
  const device = o.device ?? 'cpu';
  const config: ModelConfig = { ...o.config, vocabSize: o.corpus.vocab.size };
  const model = makeModel(config).to(device);
  const opt = makeOptimizer(model, o.lr, o.weightDecay);
  const schedule = makeSchedule(opt, o.lr, o.warmup, o.steps);
  const T = config.context;
  const trainWindows = windows(o.corpus.train, T, Infinity, device);
  const valWindows = windows(o.corpus.val, T, o.evalWindows ?? 512, device);
  // the validation targets are characters 1 .. count·T of the validation text (windows overlap by one)
  const baseline = unigramLoss(o.corpus.train, o.corpus.val.subarray(1, valWindows.shape[0]! * T + 1), config.vocabSize);
  const loader = new data.DataLoader(new data.TensorDataset(trainWindows), { batchSize: o.batchSize, shuffle: true, dropLast: true, seed: o.seed });
  if (loader.length === 0) throw new Error(`train: ${trainWindows.shape[0]} training windows do not fill one batch of ${o.batchSize}`);
  const lossEvery = o.lossEvery ?? 10;
  const history: History = { train: [], val: [] };

  const step = makeStep(model, opt, o.clip);

  let trainMs = 0;
  let valLoss = NaN;
  let batches = loader[Symbol.iterator]();
  for (let s = 1; s <= o.steps; s++) {
    const t0 = performance.now();
    let next = batches.next();
    if (next.done) {
      // a new epoch, in a new order
      batches = loader[Symbol.iterator]();
      next = batches.next();
    }
    const [batch] = next.value!;
    const loss = step(batch);
    batch.dispose();
    schedule.step();
    const read = s % lossEvery === 0 || s === o.steps;
    if (read) history.train.push([s, await loss.item()]);
    loss.dispose();
    trainMs += performance.now() - t0;
    if (read) {
      const tokensPerSecond = (s * o.batchSize * T) / (trainMs / 1000);
      o.onStep?.({ step: s, steps: o.steps, loss: history.train.at(-1)![1], tokensPerSecond, etaSeconds: ((o.steps - s) * trainMs) / s / 1000 });
    }
    if (s % o.evalEvery === 0 || s === o.steps) {
      valLoss = await evaluate(model, valWindows);
      history.val.push([s, valLoss]);
      o.onEval?.({ step: s, valLoss });
    }
  }
  opt.zeroGrad();
  trainWindows.dispose();
  valWindows.dispose();
  return { model, history, valLoss, baseline, trainSeconds: trainMs / 1000, tokensPerSecond: (o.steps * o.batchSize * T) / (trainMs / 1000) };
}
