import { arange, manualSeed, noGrad, rand, randn, tidy, zeros, type Tensor } from 'tapegrad';
import { logCoshLoss } from './log-cosh-loss.js';
import { silu } from './silu.js';

// A small regression task: fit y = tanh(4x) - x/2 plus outliers on [-1, 1] with a two-hidden-layer
// MLP whose activation is the fused SiLU, trained with the log-cosh loss (robust to the
// outliers), full batch, SGD with momentum.

export interface TrainOptions {
  steps?: number;
  hidden?: number;
  lr?: number;
  seed?: number;
  /** Called every `every` steps with the loss. */
  log?: (step: number, loss: number) => void;
  every?: number;
}

function linear(inputs: number, outputs: number): { w: Tensor; b: Tensor } {
  return tidy(() => ({
    w: randn([inputs, outputs]).mul(Math.sqrt(1 / inputs)).requiresGrad_(),
    b: zeros([outputs]).requiresGrad_(),
  }));
}

/** The data set: n points of y = tanh(4x) - x/2, one in 16 of them an outlier. */
export function makeData(n = 256): { x: Tensor; y: Tensor } {
  return tidy(() => {
    const x = rand([n, 1]).mul(2).sub(1);
    const outliers = rand([n, 1]).lt(1 / 16).cast('float32').mul(randn([n, 1]).mul(3));
    return { x, y: x.mul(4).tanh().sub(x.mul(0.5)).add(outliers) };
  });
}

export interface TrainResult {
  /** The training loss at every step. */
  losses: number[];
  /** Mean absolute error of the trained model against the noise-free function on a grid. */
  cleanError: number;
}

/** Train the model; return its losses and how well it fits the noise-free function. */
export function train(options: TrainOptions = {}): TrainResult {
  const { steps = 300, hidden = 32, lr = 0.1, seed = 0, log, every = 50 } = options;
  manualSeed(seed);
  const { x, y } = makeData();
  const layers = [linear(1, hidden), linear(hidden, hidden), linear(hidden, 1)];
  const params = layers.flatMap(({ w, b }) => [w, b]);
  const velocity = params.map((p) => zeros(p.shape));
  const forward = (input: Tensor) =>
    layers.reduce((h, { w, b }, i) => {
      const z = h.matmul(w).add(b);
      return i < layers.length - 1 ? silu(z) : z;
    }, input);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    tidy(() => {
      const loss = logCoshLoss(forward(x), y);
      loss.backward();
      losses.push(loss.itemSync());
      noGrad(() =>
        params.forEach((p, i) => {
          velocity[i]!.mul_(0.9).add_(p.grad!);
          p.sub_(velocity[i]!.mul(lr));
          p.grad!.dispose();
          p.grad = null;
        }),
      );
    });
    if (log && (step % every === 0 || step === steps - 1)) log(step, losses[step]!);
  }
  const cleanError = noGrad(() =>
    tidy(() => {
      const grid = arange(-1, 1.0001, 0.02).reshape(-1, 1);
      return forward(grid).sub(grid.mul(4).tanh().sub(grid.mul(0.5))).abs().mean().itemSync();
    }),
  );
  for (const t of [x, y, ...params, ...velocity]) t.dispose();
  return { losses, cleanError };
}
