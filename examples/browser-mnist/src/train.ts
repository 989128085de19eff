import { argmax, eq, manualSeed, memory, nn, noGrad, optim, scope, softmax, sum, tidy, type Device } from 'tapegrad';
import { batch, imageTensor, type Split } from './data.js';

export type ModelName = 'mlp' | 'cnn';

/** The models of examples/mnist: the MLP 784-128-10, and two conv layers with max pooling. */
export function makeModel(name: ModelName): nn.Module {
  if (name === 'mlp') return new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
  return new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 8 x 14 x 14
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 16 x 7 x 7
    new nn.Flatten(), new nn.Linear(16 * 7 * 7, 10),
  );
}

// In a browser tapegrad's scopes follow one flow of control (there is no AsyncLocalStorage), so
// two tasks that each hold a scope across an await would take each other's tensors. All tensor
// work here goes through this queue, one task at a time: a training step, an evaluation, a
// classification of the drawn digit.
let tail: Promise<unknown> = Promise.resolve();
export function exclusive<T>(task: () => Promise<T>): Promise<T> {
  const run = tail.then(task);
  tail = run.catch(() => undefined);
  return run;
}

export interface TrainEvents {
  /** After every step whose loss was read back. */
  onLoss(step: number, loss: number, liveTensors: number): void;
  onAccuracy(step: number, accuracy: number): void;
  /** Polled between steps. */
  stopped(): boolean;
}

/** A model, its optimizer and the data, trained a step at a time. */
export class Trainer {
  readonly model: nn.Module;
  private readonly opt: optim.Optimizer<{ lr: number }>;
  private order: Uint32Array = new Uint32Array(0);
  private next = 0;
  private rng: number;
  step = 0;

  constructor(readonly name: ModelName, readonly device: Device, private readonly train: Split, private readonly test: Split, seed = 1) {
    manualSeed(seed);
    this.rng = seed;
    this.model = makeModel(name).to(device);
    this.opt = new optim.Adam(this.model.parameters(), { lr: name === 'mlp' ? 2e-3 : 3e-3 });
  }

  /** The next `n` training rows of a shuffled pass over the set (xorshift32, seeded). */
  private rows(n: number): Uint32Array {
    if (this.next + n > this.order.length) {
      this.order = Uint32Array.from({ length: this.train.n }, (_, i) => i);
      for (let i = this.order.length - 1; i > 0; i--) {
        this.rng ^= this.rng << 13;
        this.rng ^= this.rng >>> 17;
        this.rng ^= this.rng << 5;
        const j = (this.rng >>> 0) % (i + 1);
        [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
      }
      this.next = 0;
    }
    return this.order.subarray(this.next, (this.next += n));
  }

  /**
   * Train `steps` steps of `batchSize` samples, reading the loss back every `lossEvery` steps
   * and measuring test accuracy every `evalEvery`. Each step holds a scope across its await.
   */
  async run(steps: number, events: TrainEvents, { batchSize = 64, lossEvery = 1, evalEvery = 50 } = {}): Promise<void> {
    let lastYield = performance.now();
    for (let i = 0; i < steps && !events.stopped(); i++) {
      await exclusive(async () => {
        using _ = scope(); // the step's batch, activations, gradients' graph and loss go when it ends
        const { x, y } = batch(this.train, this.rows(batchSize), this.device);
        const loss = nn.functional.crossEntropy(this.model.forward(x), y);
        this.opt.zeroGrad();
        loss.backward();
        this.opt.step();
        this.step++;
        if (this.step % lossEvery === 0 || this.step === 1 || i === steps - 1) {
          const value = await loss.item(); // on WebGPU the one sync point
          events.onLoss(this.step, value, memory().tensors);
        }
      });
      if (this.step % evalEvery === 0 || i === steps - 1) events.onAccuracy(this.step, await this.accuracy());
      // let the page draw and take input now and then
      if (performance.now() - lastYield > 30) {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = performance.now();
      }
    }
  }

  /** The fraction of the first `n` test images classified correctly. */
  accuracy(n = 1000): Promise<number> {
    return exclusive(async () => {
      this.model.eval();
      const rows = Uint32Array.from({ length: Math.min(n, this.test.n) }, (_, i) => i);
      const hits = tidy(() => {
        const { x, y } = batch(this.test, rows, this.device);
        return noGrad(() => sum(eq(argmax(this.model.forward(x), 1), y)));
      });
      const correct = await hits.item();
      hits.dispose();
      this.model.train();
      return correct / rows.length;
    });
  }

  /** Class probabilities of a 28×28 grey image in [0, 1]. */
  classify(grey: Float32Array): Promise<number[]> {
    return exclusive(async () => {
      this.model.eval();
      const probs = tidy(() => noGrad(() => softmax(this.model.forward(imageTensor(grey, this.device)), 1)));
      const values = Array.from(await probs.data());
      probs.dispose();
      this.model.train();
      return values;
    });
  }

  dispose(): void {
    this.opt.dispose();
    this.model.dispose();
  }
}
