import { initWebGPU, matmul, randn, type Tensor } from 'tapegrad';
import { dawnAsNavigatorGpu, defineSuite, tfjsWebgpu, fmt, median, type Cell, type Context } from '../harness.js';

// The WebGPU matmul kernel alone (issue 19), beside TF.js's webgpu matMul on the same shapes in
// the same process and on the same GPU object: the products of the MNIST MLP's training step
// (batch 64, 784-128-10; operands read transposed where the step reads them so) and n x n squares.
// Each sample runs a batch of products back to back and then reads one element of the last, so
// the time is the kernels' (the queue drained), not one read's round trip per product.
type Shape = { name: string; m: number; k: number; n: number; ta?: boolean; tb?: boolean };
const SHAPES: Shape[] = [
  { name: 'fc1 forward x·W1ᵀ', m: 64, k: 784, n: 128, tb: true },
  { name: 'fc1 weight grad G1ᵀ·X', m: 128, k: 64, n: 784, ta: true },
  { name: 'fc1 weight grad Xᵀ·G1', m: 784, k: 64, n: 128, ta: true },
  { name: 'fc1 input grad G1·W1', m: 64, k: 128, n: 784 },
  { name: 'fc2 forward h·W2ᵀ', m: 64, k: 128, n: 10, tb: true },
  { name: 'fc2 weight grad G2ᵀ·H', m: 10, k: 64, n: 128, ta: true },
  { name: 'fc2 input grad G2·W2', m: 64, k: 10, n: 128 },
  { name: 'square 256', m: 256, k: 256, n: 256 },
  { name: 'square 512', m: 512, k: 512, n: 512 },
  { name: 'square 1024', m: 1024, k: 1024, n: 1024 },
];

/** Products per timed sample: about 50 MFLOP of work, at least 2. */
const perSample = (s: Shape) => Math.max(2, Math.min(64, Math.round(5e7 / (2 * s.m * s.k * s.n))));

/**
 * tapegrad's WebGPU device and TF.js's webgpu backend on one GPU object (Dawn's `webgpu` package
 * on Vulkan), for suites that time kernels beside TF.js's in the same process.
 */
export async function startGpuAndTfjs(ctx: Context): Promise<{ skipped: string } | { adapter: string; tf: Awaited<ReturnType<Context['tfjs']>>['tf']; tfWhy?: string }> {
  const gpu = await dawnAsNavigatorGpu();
  let adapter: string;
  try {
    adapter = (await initWebGPU({ gpu })).adapterName;
  } catch (e) {
    return { skipped: (e as Error).message.split('\n')[0]! };
  }
  return { adapter, ...(await tfjsWebgpu(ctx)) };
}

/**
 * Milliseconds per call of each of two samplers (each sample `per` calls), two warm-up samples
 * each, then `rounds` rounds taking turns, so that load from other processes falls on both alike.
 */
export async function takeTurns(ours: () => Promise<void>, theirs: (() => Promise<void>) | undefined, rounds: number, per: number): Promise<[number[], number[]]> {
  const t: number[] = [], r: number[] = [];
  await ours(), await ours();
  if (theirs) await theirs(), await theirs();
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    await ours();
    t.push((performance.now() - t0) / per);
    if (!theirs) continue;
    t0 = performance.now();
    await theirs();
    r.push((performance.now() - t0) / per);
  }
  return [t, r];
}

export default defineSuite({
  name: 'webgpu-matmul',
  async run(ctx) {
    const started = await startGpuAndTfjs(ctx);
    if ('skipped' in started) return [{ title: 'WebGPU matmul', columns: ['note'], rows: [[`skipped: ${started.skipped}`]] }];
    const { adapter, tf, tfWhy } = started;
    const rounds = ctx.quick ? 2 : 5;
    const rows: Cell[][] = [];
    for (const s of ctx.quick ? SHAPES.slice(0, 7) : SHAPES) {
      const flop = 2 * s.m * s.k * s.n, per = perSample(s);
      // operands stored as the step stores them: a transposed operand is a view of a k-major matrix
      const a = s.ta ? randn([s.k, s.m], { device: 'webgpu' }) : randn([s.m, s.k], { device: 'webgpu' });
      const b = s.tb ? randn([s.n, s.k], { device: 'webgpu' }) : randn([s.k, s.n], { device: 'webgpu' });
      const av = s.ta ? a.T : a, bv = s.tb ? b.T : b;
      const ours = async () => {
        let c: Tensor | undefined;
        for (let i = 0; i < per; i++) (c?.dispose(), (c = matmul(av, bv)));
        await c!.narrow(0, 0, 1).data();
        c!.dispose();
      };
      const ta = tfWhy ? undefined : tf.randomNormal(s.ta ? [s.k, s.m] : [s.m, s.k]);
      const tb = tfWhy ? undefined : tf.randomNormal(s.tb ? [s.n, s.k] : [s.k, s.n]);
      const theirs = async () => {
        let c: import('@tensorflow/tfjs-core').Tensor | undefined;
        for (let i = 0; i < per; i++) (c?.dispose(), (c = tf.matMul(ta!, tb!, s.ta, s.tb)));
        await c!.data();
        c!.dispose();
      };
      const [t, r] = await takeTurns(ours, tfWhy ? undefined : theirs, rounds, per);
      const ratios = r.map((x, i) => x / t[i]!);
      rows.push([
        `${s.name} ${s.m}x${s.k}·${s.k}x${s.n}`, median(t), flop / (median(t) * 1e6),
        tfWhy ? undefined : median(r), tfWhy ? undefined : flop / (median(r) * 1e6), tfWhy ? '—' : `${fmt(median(ratios), 2)}x`,
      ]);
      a.dispose();
      b.dispose();
      tf.dispose([ta, tb].filter((x) => x !== undefined));
    }
    await tf.setBackend('cpu');
    return [{
      title: 'WebGPU matmul kernel: tapegrad beside TF.js webgpu (same process, same GPU object)',
      columns: ['product (m x k · k x n)', 'tapegrad ms', 'tapegrad GFLOP/s', 'TF.js webgpu ms', 'TF.js GFLOP/s', 'tapegrad speed / TF.js'],
      rows,
      notes: [
        `adapter: ${adapter}${/llvmpipe|lavapipe/i.test(adapter) ? ' (Mesa\'s software rasteriser: the shaders run on the CPU, not GPU figures)' : ''}. ` +
          `${rounds} rounds taking turns, each timing a batch of products then one read; medians per product. ${tfWhy ?? ''}`,
      ],
    }];
  },
});
