// Trains tapegrad on MNIST for the mnist-epoch suite in a process of its own, so that its first
// epoch starts cold (nothing compiled yet) in every round, as a user's first epoch does.
// argv: mlp|cnn, epochs, limit (0: all 60,000 images), eager|compiled (the step through
// `compile`: traced on its first calls, then replayed). Prints the seconds of each epoch as JSON.
import { setFlagsFromString } from 'node:v8';

if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-relaxed-simd');
const [kind = 'mlp', epochsArg = '2', limitArg = '0', mode = 'eager'] = process.argv.slice(2);
const { compile, data, manualSeed, nn, optim, tidy } = await import('tapegrad');
const { B, LR, MOMENTUM, LOSS_EVERY, makeModel } = await import('../suites/mnist-epoch.js');

const { images, labels } = await data.loadMnist({ split: 'train', normalize: true, limit: Number(limitArg) || undefined });
manualSeed(0);
const model = makeModel(kind as 'mlp' | 'cnn');
const opt = new optim.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
const loader = new data.DataLoader(new data.TensorDataset(images, labels), { batchSize: B, shuffle: true, seed: 0 });
type T = import('tapegrad').Tensor;
const f = (x: T, y: T) => {
  const l = nn.functional.crossEntropy(model.forward(x), y);
  opt.zeroGrad();
  l.backward();
  opt.step();
  return l;
};
const trainStep = mode === 'compiled' ? compile(f) : (x: T, y: T) => tidy(() => f(x, y));
const seconds: number[] = [];
for (let e = 0; e < Number(epochsArg); e++) {
  const t0 = performance.now();
  let step = 0;
  for (const batch of loader) {
    const loss = trainStep(batch[0], batch[1]);
    batch[Symbol.dispose]();
    if (++step % LOSS_EVERY === 0) await loss.item();
    loss.dispose();
  }
  seconds.push((performance.now() - t0) / 1000);
}
console.log(JSON.stringify(seconds));
