import { data as tgData, manualSeed, nn, optim, tidy, type Tensor } from 'tapegrad';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { defineSuite, fmt, speedup, type Cell } from '../harness.js';

// MNIST training, scaled to one epoch: a fixed number of Adam steps at batch 64 on real MNIST
// images (the same batches for every framework), timed, times 938 steps per epoch. The MLP is
// 784-128-10; the CNN is examples/mnist's: conv 3x3 (1->8) relu maxpool 2, conv 3x3 (8->16)
// relu maxpool 2, linear 784->10. Each step: forward, cross-entropy, backward, update, and no
// loss read-back (the example reads it every 20 steps).
const B = 64, STEPS_PER_EPOCH = 938;

export default defineSuite({
  name: 'mnist',
  async run(ctx) {
    const steps = { mlp: ctx.quick ? 5 : 30, cnn: ctx.quick ? 2 : 8 };
    const { images, labels } = await tgData.loadMnist({ split: 'train', normalize: true, limit: B * 30 });
    const xs = Array.from({ length: 30 }, (_, i) => images.narrow(0, i * B, B).contiguous());
    const ys = Array.from({ length: 30 }, (_, i) => labels.narrow(0, i * B, B).contiguous());
    const host = { x: images.dataSync() as Float32Array, y: labels.dataSync() as Int32Array };

    const ours = async (kind: 'mlp' | 'cnn') => {
      manualSeed(0);
      const model = kind === 'mlp'
        ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10))
        : new nn.Sequential(
            new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
            new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(16 * 49, 10));
      const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
      let i = 0;
      const step = () => tidy(() => {
        const logits: Tensor = model.forward(xs[i % 30]!);
        const loss = nn.functional.crossEntropy(logits, ys[i++ % 30]!);
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
      const t = await ctx.time(step, { warmup: 2, reps: steps[kind], minMs: 0 });
      model.dispose();
      return t.median;
    };

    const tfjs = async (backend: 'cpu' | 'wasm', kind: 'mlp' | 'cnn') => {
      const { tf } = await ctx.tfjs(backend);
      tf.setBackend(backend);
      const tx = tf.tensor4d(host.x, [30 * B, 28, 28, 1]);
      const ty = tf.oneHot(tf.tensor1d(host.y, 'int32'), 10).asType('float32');
      const init = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
      const vars = kind === 'mlp'
        ? [init([784, 128], 784), init([128], 784), init([128, 10], 128), init([10], 128)]
        : [init([3, 3, 1, 8], 9), init([8], 9), init([3, 3, 8, 16], 72), init([16], 72), init([784, 10], 784), init([10], 784)];
      const forward = (x: ReturnType<typeof tf.slice>) => {
        if (kind === 'mlp') {
          const h = tf.relu(tf.add(tf.matMul(tf.reshape(x, [B, 784]), vars[0]!), vars[1]!));
          return tf.add(tf.matMul(h, vars[2]!), vars[3]!);
        }
        type T4 = Parameters<typeof tf.conv2d>[0];
        let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x as T4, vars[0]! as never, 1, 'same'), vars[1]!)) as T4, 2, 2, 'valid');
        h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, vars[2]! as never, 1, 'same'), vars[3]!)) as T4, 2, 2, 'valid');
        return tf.add(tf.matMul(tf.reshape(h, [B, 784]), vars[4]!), vars[5]!);
      };
      const opt = tf.train.adam(1e-3);
      let i = 0;
      const step = () => {
        const k = i++ % 30;
        tf.tidy(() => {
          const x = tf.slice(tx, [k * B, 0, 0, 0], [B, 28, 28, 1]);
          const y = tf.slice(ty, [k * B, 0], [B, 10]);
          opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as never, false, vars as never);
        });
      };
      const slow = backend === 'cpu' && kind === 'cnn';
      const t = await ctx.time(step, { warmup: slow ? 1 : 2, reps: slow ? 2 : steps[kind], minMs: 0 });
      opt.dispose();
      tf.dispose([tx, ty, ...vars]);
      return t.median;
    };

    // tfjs's wasm backend has no Conv2DBackpropFilter kernel: that cell stays empty
    const tryTfjs = async (backend: 'cpu' | 'wasm', kind: 'mlp' | 'cnn') => {
      try {
        return await tfjs(backend, kind);
      } catch (e) {
        missing.push(`tfjs ${backend} ${kind}: ${(e as Error).message}`);
        return undefined;
      }
    };
    const missing: string[] = [];
    const rows: Cell[][] = [];
    for (const kind of ['mlp', 'cnn'] as const) {
      const t = await ours(kind), w = await tryTfjs('wasm', kind), c = await tryTfjs('cpu', kind);
      const epoch = (ms: number | undefined) => (ms === undefined ? undefined : (ms * STEPS_PER_EPOCH) / 1000);
      rows.push([kind, t, epoch(t), w, epoch(w), c, epoch(c), speedup(t, w), speedup(t, c)]);
    }
    for (const t of [...xs, ...ys, images, labels]) t.dispose();
    const info = cpuKernelInfo();
    return [{
      title: `MNIST training with Adam at batch ${B}: ms per step and seconds per epoch (${STEPS_PER_EPOCH} steps), lower is better`,
      columns: ['model', 'tapegrad ms', 'tapegrad s/epoch', 'tfjs wasm ms', 'tfjs wasm s/epoch', 'tfjs cpu ms', 'tfjs cpu s/epoch', 'vs tfjs wasm', 'vs tfjs cpu'],
      rows,
      notes: [
        `tapegrad: WebAssembly ${info.simd}, ${info.threads} thread(s); tfjs: ${(await ctx.tfjs('wasm')).description}. Epoch seconds = median step × ${STEPS_PER_EPOCH} (no evaluation, no data loading). ${fmt(steps.mlp, 0)} MLP and ${fmt(steps.cnn, 0)} CNN steps timed.`,
        ...missing,
      ],
    }];
  },
});
