import { amp, autocast, initWebGPU, manualSeed, matmul, nn, optim, randint, randn, tidy, type Device, type Tensor } from 'tapegrad';
import { defineSuite, fmt, type Cell, type Table } from '../harness.js';

// The WebGPU rows beside the CPU rows, in one run: matmul GFLOP/s (and float16 beside float32), fused cross-entropy
// forward+backward GB/s, and MNIST-shaped training steps (MLP 784-128-10 and the example's CNN,
// batch 64, Adam), on WebGPU also under autocast float16 with a GradScaler beside float32. Every timed GPU call ends with a read, so the time includes the queue
// draining. Without an adapter the suite prints why and skips.
// TensorFlow.js's WebGPU backend needs navigator.gpu; it belongs beside these rows on a machine
// with a real GPU (docs/performance.md).
const MATMUL = [256, 1024, 2048];
const HALF_MATMUL = [256, 512, 1024];
const B = 64;

async function sync(t: Tensor): Promise<void> {
  await t.narrow(0, 0, 1).data();
}

export default defineSuite({
  name: 'webgpu',
  async run(ctx) {
    let adapter: string;
    try {
      await initWebGPU();
      adapter = 'WebGPU (Dawn)';
    } catch (e) {
      return [{ title: 'WebGPU', columns: ['note'], rows: [[`skipped: ${(e as Error).message.split('\n')[0]}`]] }];
    }
    const reps = ctx.quick ? 2 : 5;
    const devices: Device[] = ['cpu', 'webgpu'];
    const opts = { warmup: 1, reps, minMs: 0 };

    const mm: Cell[][] = [];
    for (const n of ctx.quick ? MATMUL.slice(0, 1) : MATMUL) {
      const row: Cell[] = [`matmul ${n} GFLOP/s`];
      for (const device of devices) {
        const a = randn([n, n], { device }), b = randn([n, n], { device });
        const t = await ctx.time(async () => { const c = matmul(a, b); await sync(c); c.dispose(); }, opts);
        row.push((2 * n ** 3) / (t.median * 1e6));
        a.dispose();
        b.dispose();
      }
      mm.push(row);
    }

    // float16 beside float32 on the GPU: half the bytes loaded per element, the same f32 arithmetic
    const half: Cell[][] = [];
    for (const n of ctx.quick ? HALF_MATMUL.slice(0, 1) : HALF_MATMUL) {
      const row: Cell[] = [`matmul ${n} GFLOP/s`];
      for (const dtype of ['float32', 'float16'] as const) {
        const a = randn([n, n], { device: 'webgpu' }).to(dtype), b = randn([n, n], { device: 'webgpu' }).to(dtype);
        const t = await ctx.time(async () => { const c = matmul(a, b); await sync(c); c.dispose(); }, opts);
        row.push((2 * n ** 3) / (t.median * 1e6));
        a.dispose();
        b.dispose();
      }
      half.push(row);
    }

    const ce: Cell[][] = [];
    for (const [N, C] of ctx.quick ? [[512, 1000]] : [[4096, 1000], [512, 32000]]) {
      const row: Cell[] = [`crossEntropy fwd+bwd ${N}x${C} GB/s`];
      for (const device of devices) {
        const x = randn([N!, C!], { device }).requiresGrad_();
        const y = randint(0, C!, [N!], { device });
        const t = await ctx.time(async () => {
          tidy(() => nn.functional.crossEntropy(x, y).backward());
          await sync(x.grad!);
          x.grad = (x.grad?.dispose(), null);
        }, opts);
        row.push((3 * N! * C! * 4) / (t.median * 1e6)); // read x twice, write the gradient once
        x.dispose();
        y.dispose();
      }
      ce.push(row);
    }

    // the median ms of one training step; mixed: the forward and loss under autocast (float16
    // on WebGPU), the scaled loss's backward and the GradScaler's unscale, step (its inf check
    // read back) and update, as `pnpm mnist --amp`
    const stepMs = async (kind: 'mlp' | 'cnn', device: Device, mixed = false): Promise<number> => {
      manualSeed(0);
      const model = kind === 'mlp'
        ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10))
        : new nn.Sequential(
            new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
            new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(16 * 49, 10));
      model.to(device);
      const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
      const scaler = new amp.GradScaler();
      const x = randn([B, 1, 28, 28], { device });
      const y = randint(0, 10, [B], { device });
      const t = await ctx.time(async () => {
        if (mixed) {
          tidy(() => {
            opt.zeroGrad();
            scaler.scale(autocast({ device }, () => nn.functional.crossEntropy(model.forward(x), y))).backward();
            scaler.unscale_(opt);
          });
          await scaler.stepAsync(opt);
          scaler.update();
        } else {
          tidy(() => {
            const loss = nn.functional.crossEntropy(model.forward(x), y);
            opt.zeroGrad();
            loss.backward();
            opt.step();
          });
        }
        await sync(model.parameters()[0]!);
      }, { warmup: 1, reps: ctx.quick ? 2 : kind === 'cnn' ? 3 : 10, minMs: 0 });
      model.dispose();
      x.dispose();
      y.dispose();
      return t.median;
    };
    const steps: Cell[][] = [];
    const ampSteps: Cell[][] = [];
    for (const kind of ['mlp', 'cnn'] as const) {
      const [cpu, gpu] = [await stepMs(kind, 'cpu'), await stepMs(kind, 'webgpu')];
      steps.push([`MNIST ${kind} training step ms`, cpu, gpu]);
      ampSteps.push([`MNIST ${kind} training step ms`, gpu, await stepMs(kind, 'webgpu', true)]);
    }
    const ratio = (r: Cell[]) => (typeof r[1] === 'number' && typeof r[2] === 'number' ? `${fmt(r[2] / r[1], 2)}x` : '—');
    const table: Table = {
      title: 'WebGPU beside the CPU (same run)',
      columns: ['workload', 'tapegrad cpu', 'tapegrad webgpu', 'webgpu / cpu'],
      rows: [...mm, ...ce, ...steps].map((r) => [...r, ratio(r)]),
      notes: [
        `adapter: ${adapter}; memory bandwidth of this machine (CPU copy) ${fmt(ctx.bandwidth)} GB/s. ` +
          'For GFLOP/s and GB/s higher is better, for ms lower; on a machine without a GPU the adapter is Mesa\'s llvmpipe (software), so these rows measure the code path, not a GPU.',
      ],
    };
    const halfTable: Table = {
      title: 'WebGPU matmul, float32 beside float16 (same run)',
      columns: ['workload', 'webgpu float32', 'webgpu float16', 'float16 / float32'],
      rows: half.map((r) => [...r, ratio(r)]),
      notes: [
        'float16 is stored as WGSL f16 (the shader-f16 feature) and computed in f32, rounded once per output (PyTorch\'s CUDA opmath). ' +
          'On llvmpipe the shaders run on the CPU, where the f16 conversions are extra integer work and memory traffic is not the limit, so this ratio says nothing about a GPU, where halving the bytes moved is the point.',
      ],
    };
    const ampTable: Table = {
      title: 'WebGPU MNIST training step, float32 beside autocast float16 + GradScaler (same run)',
      columns: ['workload', 'webgpu float32', 'webgpu amp (float16)', 'amp / float32'],
      rows: ampSteps.map((r) => [...r, ratio(r)]),
      notes: [
        'batch 64, Adam; the amp step is `pnpm mnist --amp`\'s: the forward and loss under autocast (matmuls, linears and convolutions in float16, parameters float32), ' +
          'the scaled backward, and the GradScaler\'s unscale and inf check (read back by stepAsync) before the step. Lower is better. ' +
          'On llvmpipe (software) the casts are extra work and memory traffic is not the limit, so amp is not expected to be faster there.',
      ],
    };
    return [table, halfTable, ampTable];
  },
});
