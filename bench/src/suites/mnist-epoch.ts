import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data as tgData, nn } from 'tapegrad';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { defineSuite, fmt, median, roundRatios, type Cell } from '../harness.js';

// Whole MNIST epochs, as the issue states its targets: 60,000 training images at batch 64 (938
// steps), shuffled, each framework with its own data pipeline, SGD with momentum 0.9 (lr 0.01),
// the loss read every 20 steps (what the example prints). Timed from the first batch to the last
// update; loading the files and building the model are outside.
//
// The MLP trains two epochs per framework in each of five rounds, tapegrad and PyTorch taking
// turns, each in a fresh process: the first epoch pays any warm-up (V8 compiles tapegrad's step
// over its first few hundred calls), the second is the steady state, and a ratio is taken inside
// each round (load from other processes on this shared machine drifts over a minute), its median
// over the rounds quoted. PyTorch runs with torch.utils.data.DataLoader over a TensorDataset
// (what its tutorials and most scripts do; it collates the 64 samples of a batch one by one) and
// with batches cut by indexing the shuffled tensor (its fastest plain loop). TF.js wasm trains
// one MLP epoch, batches cut with tf.gather; TF.js cpu (~70 ms a step) and the CNN on TF.js wasm
// (it has no Conv2DBackpropFilter) are left out. The CNN: one round, one epoch. In each round
// tapegrad also trains with its step compiled (`compile`, issue 19), in a fresh process too.
export const B = 64, LR = 0.01, MOMENTUM = 0.9, LOSS_EVERY = 20;

/** The models both frameworks train: examples/mnist's MLP and CNN. */
export function makeModel(kind: 'mlp' | 'cnn'): nn.Module {
  return kind === 'mlp'
    ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10))
    : new nn.Sequential(
        new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(16 * 49, 10));
}


export default defineSuite({
  name: 'mnist-epoch',
  async run(ctx) {
    const limit = ctx.quick ? B * 50 : 0;
    const rounds = ctx.quick ? 1 : 5;
    const { images, labels } = await tgData.loadMnist({ split: 'train', normalize: true, limit: limit || undefined });
    const n = images.shape[0]!;
    const host = { x: images.dataSync() as Float32Array, y: labels.dataSync() as Int32Array };
    images.dispose();
    labels.dispose();

    const child = fileURLToPath(new URL('../child/mnist-epochs.ts', import.meta.url));
    const ours = (kind: 'mlp' | 'cnn', epochs: number, mode: 'eager' | 'compiled' = 'eager'): number[] => {
      const r = spawnSync(process.execPath, [...process.execArgv, child, kind, String(epochs), String(limit), mode], { encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) throw new Error(`mnist-epoch: tapegrad's ${kind} run failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
    };

    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-epoch-'));
    const pytorch = (kind: 'mlp' | 'cnn', batching: 'loader' | 'index', epochs: number) => ctx.torch<number[]>(`
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
for _ in range(${epochs}):
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

    type Runs = { ours: number[][]; compiled: number[][]; loader: (number[] | undefined)[]; index: (number[] | undefined)[] };
    const runs: Record<'mlp' | 'cnn', Runs> = { mlp: { ours: [], compiled: [], loader: [], index: [] }, cnn: { ours: [], compiled: [], loader: [], index: [] } };
    try {
      writeFileSync(join(dir, 'x.f32'), host.x);
      writeFileSync(join(dir, 'y.i32'), host.y);
      for (const [kind, epochs, r] of [['mlp', 2, rounds], ['cnn', 1, 1]] as const) {
        for (let i = 0; i < r; i++) {
          runs[kind].ours.push(ours(kind, epochs));
          runs[kind].compiled.push(ours(kind, epochs, 'compiled'));
          runs[kind].loader.push(pytorch(kind, 'loader', epochs));
          runs[kind].index.push(pytorch(kind, 'index', epochs));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // TF.js wasm, MLP only: one epoch of tf.gather batches from a shuffled index
    const { tf, description } = await ctx.tfjs('wasm');
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
    const tfjsWasm = (performance.now() - t0) / 1000;
    opt.dispose();
    tf.dispose([tx, ty, ...vars]);

    // per round, theirs / ours for epoch e: above 1, tapegrad took less time
    const ratio = (kind: 'mlp' | 'cnn', theirs: (number[] | undefined)[], e: number): string => {
      const rs = runs[kind].ours.map((o, i) => (theirs[i]?.[e] === undefined ? undefined : theirs[i]![e]! / o[e]!)).filter((x): x is number => x !== undefined);
      return roundRatios(rs);
    };
    const cell = (xs: (number[] | undefined)[], e: number): Cell => {
      const v = xs.map((s) => s?.[e]).filter((x): x is number => x !== undefined);
      return v.length ? median(v) : undefined;
    };
    const info = cpuKernelInfo();
    const rows: Cell[][] = [];
    for (const kind of ['mlp', 'cnn'] as const) {
      const r = runs[kind];
      rows.push([`tapegrad (WebAssembly ${info.simd}, ${info.threads} thr)`, kind, cell(r.ours, 0), cell(r.ours, 1), '1x', kind === 'mlp' ? '1x' : '—']);
      rows.push(['PyTorch, DataLoader', kind, cell(r.loader, 0), cell(r.loader, 1), ratio(kind, r.loader, 0), kind === 'mlp' ? ratio(kind, r.loader, 1) : '—']);
      rows.push(['PyTorch, indexed batches', kind, cell(r.index, 0), cell(r.index, 1), ratio(kind, r.index, 0), kind === 'mlp' ? ratio(kind, r.index, 1) : '—']);
      if (kind === 'mlp') rows.push(['tfjs wasm, tf.gather batches', kind, tfjsWasm, undefined, `${fmt(tfjsWasm / median(r.ours.map((o) => o[0]!)), 2)}x`, '—']);
    }
    // per round, eager / compiled for epoch e: above 1, the compiled step took less time
    const compiledRows: Cell[][] = (['mlp', 'cnn'] as const).map((kind) => {
      const r = runs[kind];
      const speedUp = (e: number) => roundRatios(r.ours.map((o, i) => o[e]! / r.compiled[i]![e]!));
      return [kind, cell(r.ours, 0), cell(r.compiled, 0), speedUp(0), ...(kind === 'mlp' ? [cell(r.ours, 1), cell(r.compiled, 1), speedUp(1)] : ['—', '—', '—'])];
    });
    return [{
      title: `MNIST epochs, tapegrad eager and compiled (\`compile\`, fused), each in a fresh process`,
      columns: ['model', 'eager epoch 1 s', 'compiled epoch 1 s', 'compiled speed-up, epoch 1', 'eager epoch 2 s', 'compiled epoch 2 s', 'compiled speed-up, epoch 2'],
      rows: compiledRows,
      notes: ['The same rounds as below; the speed-up is the median over rounds of eager / compiled inside each round (range in brackets). The compiled step traces on its first two calls (the first makes the optimizer\'s state) and on the epoch\'s last, short batch.'],
    }, {
      title: `MNIST epochs: ${n.toLocaleString('en-US')} images, batch ${B}, SGD momentum: seconds, and how many times faster tapegrad is`,
      columns: ['framework', 'model', 'epoch 1 s', 'epoch 2 s', 'tapegrad speed-up, epoch 1', 'tapegrad speed-up, epoch 2'],
      rows,
      notes: [
        `${Math.ceil(n / B)} steps an epoch, the loss read every ${LOSS_EVERY}; epoch 1 from a fresh process and model. Seconds: medians over ${rounds} round(s) (MLP; the CNN 1). ` +
          `Speed-ups: the median over rounds of the ratio inside each round (range in brackets); above 1x tapegrad took less time. tfjs: ${description}, one epoch, against tapegrad's median first epoch.`,
      ],
    }];
  },
});
