import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data as tgData, manualSeed, nn, optim, tidy, type Tensor } from 'tapegrad';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { defineSuite, fmt, speedup, type Cell } from '../harness.js';

// Whole MNIST epochs, as the issue states its targets: 60,000 training images at batch 64 (938
// steps), shuffled, each framework with its own data pipeline, SGD with momentum 0.9 (lr 0.01),
// the loss read every 20 steps (what the example prints). Timed from the first batch to the last
// update; loading the files and building the model are outside. Two epochs each: the first from
// a fresh model pays any warm-up (V8 compiles tapegrad's step over its first few hundred calls),
// the second is the steady state. Run this suite alone (`pnpm bench -- mnist-epoch`) for a cold
// first epoch; after other suites, tapegrad's code is already compiled.
//
// PyTorch runs twice: with torch.utils.data.DataLoader over a TensorDataset (what its tutorials
// and most training scripts do; it collates 64 samples one by one per batch) and with batches cut
// by indexing the shuffled tensor (its fastest plain loop). TF.js wasm cuts batches with
// tf.gather; TF.js cpu (~70 ms a step) and the CNN on TF.js wasm (no Conv2DBackpropFilter) are
// left out.
const B = 64, LR = 0.01, MOMENTUM = 0.9, LOSS_EVERY = 20;

export default defineSuite({
  name: 'mnist-epoch',
  async run(ctx) {
    const limit = ctx.quick ? B * 50 : undefined;
    const { images, labels } = await tgData.loadMnist({ split: 'train', normalize: true, limit });
    const n = images.shape[0]!;
    const steps = Math.ceil(n / B);
    const epochs = { mlp: 2, cnn: 1 };

    const ours = async (kind: 'mlp' | 'cnn'): Promise<number[]> => {
      manualSeed(0);
      const model = kind === 'mlp'
        ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10))
        : new nn.Sequential(
            new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
            new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(16 * 49, 10));
      const opt = new optim.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
      const loader = new tgData.DataLoader(new tgData.TensorDataset(images, labels), { batchSize: B, shuffle: true, seed: 0 });
      const seconds: number[] = [];
      for (let e = 0; e < epochs[kind]; e++) {
        const t0 = performance.now();
        let step = 0;
        for (const batch of loader) {
          const loss = tidy(() => {
            const [x, y] = batch;
            const l: Tensor = nn.functional.crossEntropy(model.forward(x), y);
            opt.zeroGrad();
            l.backward();
            opt.step();
            return l;
          });
          batch[Symbol.dispose]();
          if (++step % LOSS_EVERY === 0) await loss.item();
          loss.dispose();
        }
        seconds.push((performance.now() - t0) / 1000);
      }
      model.dispose();
      return seconds;
    };
    // tapegrad first, before TensorFlow.js fills the heap (see the mnist suite)
    const oursS = { mlp: await ours('mlp'), cnn: await ours('cnn') };

    const host = { x: images.dataSync() as Float32Array, y: labels.dataSync() as Int32Array };
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-epoch-'));
    let torchS: Record<'loader' | 'index', Record<'mlp' | 'cnn', number[] | undefined>>;
    try {
      writeFileSync(join(dir, 'x.f32'), host.x);
      writeFileSync(join(dir, 'y.i32'), host.y);
      const pytorch = (kind: 'mlp' | 'cnn', batching: 'loader' | 'index') => ctx.torch<number[]>(`
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
N, B, LOSS_EVERY = ${n}, ${B}, ${LOSS_EVERY}
x = torch.from_file(${JSON.stringify(join(dir, 'x.f32'))}, size=N * 784, dtype=torch.float32).view(N, 1, 28, 28)
y = torch.from_file(${JSON.stringify(join(dir, 'y.i32'))}, size=N, dtype=torch.int32).long()
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)) if '${kind}' == 'mlp' else nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 49, 10))
opt = torch.optim.SGD(model.parameters(), lr=${LR}, momentum=${MOMENTUM})
loader = DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)
def batches():
    if '${batching}' == 'loader':
        yield from loader
    else:
        perm = torch.randperm(N)
        for s in range(0, N, B):
            idx = perm[s:s + B]
            yield x[idx], y[idx]
seconds = []
for _ in range(${epochs[kind]}):
    t0 = time.perf_counter()
    for step, (xb, yb) in enumerate(batches(), 1):
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % LOSS_EVERY == 0: loss.item()
    seconds.append(time.perf_counter() - t0)
print(json.dumps(seconds))
`);
      torchS = {
        loader: { mlp: pytorch('mlp', 'loader'), cnn: pytorch('cnn', 'loader') },
        index: { mlp: pytorch('mlp', 'index'), cnn: pytorch('cnn', 'index') },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // TF.js wasm, MLP only: one epoch of tf.gather batches from a shuffled index
    const { tf } = await ctx.tfjs('wasm');
    const tx = tf.tensor2d(host.x, [n, 784]);
    const ty = tf.oneHot(tf.tensor1d(host.y, 'int32'), 10).asType('float32');
    const init = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
    const vars = [init([784, 128], 784), init([128], 784), init([128, 10], 128), init([10], 128)];
    const opt = tf.train.momentum(LR, MOMENTUM);
    const order = Int32Array.from(tf.util.createShuffledIndices(n));
    const t0 = performance.now();
    for (let s = 0, step = 1; s < n; s += B, step++) {
      const loss = tf.tidy(() => {
        const idx = tf.tensor1d(order.slice(s, s + B), 'int32');
        const x = tf.gather(tx, idx), y = tf.gather(ty, idx);
        return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, vars[0]!), vars[1]!)), vars[2]!), vars[3]!)) as never, true, vars as never)!;
      });
      if (step % LOSS_EVERY === 0) loss.dataSync();
      loss.dispose();
    }
    const tfjsWasmS = (performance.now() - t0) / 1000;
    opt.dispose();
    tf.dispose([tx, ty, ...vars]);
    images.dispose();
    labels.dispose();

    const rows: Cell[][] = [];
    const add = (framework: string, kind: 'mlp' | 'cnn', s: number[] | undefined) => {
      const ref = oursS[kind];
      rows.push([framework, kind, s?.[0], s?.[1], speedup(ref[0], s?.[0]), speedup(ref[1], s?.[1])]);
    };
    for (const kind of ['mlp', 'cnn'] as const) {
      const info = cpuKernelInfo();
      add(`tapegrad (WebAssembly ${info.simd}, ${info.threads} thr)`, kind, oursS[kind]);
      add('PyTorch, DataLoader', kind, torchS.loader[kind]);
      add('PyTorch, indexed batches', kind, torchS.index[kind]);
      if (kind === 'mlp') add('tfjs wasm, tf.gather batches', kind, [tfjsWasmS]);
    }
    return [{
      title: `MNIST epochs: ${n.toLocaleString('en-US')} images, batch ${B}, SGD momentum, seconds (lower is better)`,
      columns: ['framework', 'model', 'epoch 1 s', 'epoch 2 s', 'tapegrad speed-up, epoch 1', 'tapegrad speed-up, epoch 2'],
      rows,
      notes: [
        `${steps} steps an epoch, the loss read every ${LOSS_EVERY}. Epoch 1 starts from a fresh model; a speed-up above 1x means tapegrad took less time. ` +
          `tfjs: ${(await ctx.tfjs('wasm')).description}, one epoch. The CNN runs one epoch per framework${ctx.quick ? '' : ` (~${fmt(oursS.cnn[0])} s for tapegrad)`}.`,
      ],
    }];
  },
});
