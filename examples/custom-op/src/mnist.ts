import { data, keep, manualSeed, noGrad, randn, tidy, zeros, type Device, type Tensor } from 'tapegrad';
import { silu } from './silu.js';

// A slice of MNIST, classified by a one-hidden-layer MLP whose activation is the fused SiLU:
// cross-entropy from logSoftmax and gather, minibatch SGD with momentum.

export interface MnistOptions {
  trainSize?: number;
  testSize?: number;
  epochs?: number;
  hidden?: number;
  lr?: number;
  seed?: number;
  /** Where the data, the parameters and every op live (default 'cpu'). */
  device?: Device;
  /** Called after every epoch. */
  log?: (epoch: number, loss: number, testAccuracy: number) => void;
}

export interface MnistResult {
  /** Mean training loss of each epoch. */
  losses: number[];
  /** Test accuracy after each epoch. */
  accuracies: number[];
}

/** Train on the first `trainSize` training images; measure accuracy on the first `testSize` test images. */
export async function trainMnist(options: MnistOptions = {}): Promise<MnistResult> {
  const { trainSize = 2000, testSize = 1000, epochs = 3, hidden = 64, lr = 0.05, seed = 0, device = 'cpu', log } = options;
  manualSeed(seed);
  const train = await data.loadMnist({ split: 'train', normalize: true, flatten: true, limit: trainSize, device });
  const test = await data.loadMnist({ split: 'test', normalize: true, flatten: true, limit: testSize, device });
  // drawn on the CPU, so every device starts from the same weights
  const params = tidy(() => ({
    w1: randn([784, hidden]).mul(Math.sqrt(1 / 784)).to(device).requiresGrad_(),
    b1: zeros([hidden], { device }).requiresGrad_(),
    w2: randn([hidden, 10]).mul(Math.sqrt(1 / hidden)).to(device).requiresGrad_(),
    b2: zeros([10], { device }).requiresGrad_(),
  }));
  const list = Object.values(params);
  const velocity = list.map((p) => zeros(p.shape, { device }));
  const forward = (x: Tensor) => silu(x.matmul(params.w1).add(params.b1)).matmul(params.w2).add(params.b2);
  const loader = new data.DataLoader(new data.TensorDataset(train.images, train.labels), { batchSize: 64, shuffle: true, seed });

  const losses: number[] = [];
  const accuracies: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    // the losses add up on the device: reading one per step would wait for the device every step
    let total = zeros([], { device });
    let batches = 0;
    for (using batch of loader) {
      const [x, y] = batch as unknown as [Tensor, Tensor];
      tidy(() => {
        const loss = forward(x).logSoftmax(1).gather(1, y.unsqueeze(1)).mean().neg();
        loss.backward();
        const sum = keep(noGrad(() => total.add(loss)));
        total.dispose();
        total = sum;
        batches++;
        noGrad(() =>
          list.forEach((p, i) => {
            velocity[i]!.mul_(0.9).add_(p.grad!);
            p.sub_(velocity[i]!.mul(lr));
            p.grad!.dispose();
            p.grad = null;
          }),
        );
      });
    }
    const correct = noGrad(() => tidy(() => forward(test.images).argmax(1).eq(test.labels).cast('float32').mean()));
    const [loss, accuracy] = [(await total.item()) / batches, await correct.item()];
    total.dispose();
    correct.dispose();
    losses.push(loss);
    accuracies.push(accuracy);
    log?.(epoch, loss, accuracy);
  }
  for (const t of [train.images, train.labels, test.images, test.labels, ...list, ...velocity]) t.dispose();
  return { losses, accuracies };
}
