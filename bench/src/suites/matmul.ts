import { matmul, randn } from '@tapegrad/tensor';
import { cpuKernelInfo, cpuWorkersReady, setCpuKernelOptions, type CpuKernelOptions } from '@tapegrad/backend-cpu';
import { defineSuite, fmt, type Table } from '../harness.js';

// float32 C = A·B at an MNIST batch (64x784 · 784x128) and square sizes, in GFLOP/s.
const SIZES: [number, number, number][] = [[64, 784, 128], [256, 256, 256], [512, 512, 512], [1024, 1024, 1024]];
const label = ([m, k, n]: number[]) => (m === k && k === n ? `${m}` : `${m}x${k}x${n}`);
const gflops = ([m, k, n]: number[], ms: number | undefined) => (ms ? (2 * m! * k! * n!) / (ms * 1e6) : undefined);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${fmt(a / b, 2)}x` : '—');

// The products of a training step beyond the forward one: [name, m, k, n, A transposed, B transposed].
// A transposed operand is a view of a [k, m] (or [n, k]) matrix, as the gradient rules pass it.
const TRAINING: [string, number, number, number, boolean, boolean][] = [
  ['MLP layer 1 weight grad, Xᵀ·G', 784, 64, 128, true, false],
  ['MLP layer 2 forward', 64, 128, 10, false, false],
  ['MLP layer 2 weight grad, Hᵀ·G', 128, 64, 10, true, false],
  ['MLP layer 2 input grad, G·Wᵀ', 64, 10, 128, false, true],
  ['CNN conv 1→8 weight grad, col·Gᵀ', 9, 50176, 8, false, true],
  ['CNN conv 8→16 weight grad, col·Gᵀ', 72, 12544, 16, false, true],
];

export default defineSuite({
  name: 'matmul',
  async run(ctx) {
    const sizes = ctx.quick ? SIZES.slice(0, 2) : SIZES;
    const reps = ctx.quick ? 5 : 11;

    const ours = async (size: number[]) => {
      const [m, k, n] = size as [number, number, number];
      const a = randn([m, k]), b = randn([k, n]);
      const t = await ctx.time(() => matmul(a, b).dispose(), { reps });
      a.dispose();
      b.dispose();
      return gflops(size, t.median);
    };
    const tfjs = async (backend: 'cpu' | 'wasm', size: number[]) => {
      const [m, k, n] = size as [number, number, number];
      const slow = backend === 'cpu' && m * k * n > 300 ** 3;
      if (backend === 'cpu' && m * k * n > 600 ** 3 && !ctx.quick) return undefined; // ~5 s a call
      const { tf } = await ctx.tfjs(backend);
      const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
      const t = await ctx.time(() => tf.matMul(a, b).dataSync(), slow ? { warmup: 1, reps: 3, minMs: 0 } : { reps });
      tf.dispose([a, b]);
      return gflops(size, t.median);
    };
    const torchRes = ctx.torch<number[]>(`
sizes = ${JSON.stringify(sizes)}
out = []
for m, k, n in sizes:
    a, b = torch.randn(m, k), torch.randn(k, n)
    out.append(2 * m * k * n / (bench(lambda: torch.matmul(a, b), reps=${reps}) * 1e6))
print(json.dumps(out))
`);

    const rows: (string | number | undefined)[][] = [];
    const info = cpuKernelInfo();
    for (const [i, size] of sizes.entries()) {
      const t = await ours(size), w = await tfjs('wasm', size), c = await tfjs('cpu', size), p = torchRes?.[i];
      rows.push([label(size), t, w, c, p, ratio(t, w), ratio(t, c), ratio(t, p)]);
    }
    const tables: Table[] = [{
      title: 'matmul float32, GFLOP/s (higher is better) and tapegrad\'s ratio to each',
      columns: ['size', 'tapegrad', 'tfjs wasm', 'tfjs cpu', 'PyTorch', 'vs tfjs wasm', 'vs tfjs cpu', 'vs PyTorch'],
      rows,
      notes: [
        `tapegrad: WebAssembly ${info.simd}, ${info.threads} thread(s); tfjs: ${(await ctx.tfjs('wasm')).description}; PyTorch: ${torchRes ? 'torch ' + 'CPU, default threads' : 'not available'}.` +
          ' tfjs cpu is skipped at 1024 (about 5 s a call).',
      ],
    }];

    // the training step's other products, transposed operands as views
    const trows: (string | number | undefined)[][] = [];
    const torchT = ctx.torch<number[]>(`
out = []
for m, k, n, ta, tb in ${JSON.stringify(TRAINING.map(([, m, k, n, ta, tb]) => [m, k, n, ta ? 1 : 0, tb ? 1 : 0]))}:
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    out.append(2 * m * k * n / (bench(lambda: torch.matmul(a, b), reps=${reps}) * 1e6))
print(json.dumps(out))
`);
    const { tf } = await ctx.tfjs('wasm');
    for (const [i, [name, m, k, n, ta, tb]] of TRAINING.entries()) {
      const size = [m, k, n];
      const a = ta ? randn([k, m]).transpose(0, 1) : randn([m, k]), b = tb ? randn([n, k]).transpose(0, 1) : randn([k, n]);
      const t = gflops(size, (await ctx.time(() => matmul(a, b).dispose(), { reps })).median);
      a.dispose();
      b.dispose();
      const ta2 = tf.randomNormal(ta ? [k, m] : [m, k]), tb2 = tf.randomNormal(tb ? [n, k] : [k, n]);
      const w = gflops(size, (await ctx.time(() => tf.matMul(ta2, tb2, ta, tb).dataSync(), { reps })).median);
      tf.dispose([ta2, tb2]);
      const p = torchT?.[i];
      trows.push([`${name} ${m}x${k}x${n}`, t, w, p, ratio(t, w), ratio(t, p)]);
    }
    tables.push({
      title: 'matmul float32 of a training step, GFLOP/s (transposed operands as views)',
      columns: ['product, m×k×n', 'tapegrad', 'tfjs wasm', 'PyTorch', 'vs tfjs wasm', 'vs PyTorch'],
      rows: trows,
      notes: ['The CNN rows are conv2d weight gradients at batch 64 (im2col matrix times the output gradient, transposed): a small result over a long reduction.'],
    });

    if (!ctx.quick) {
      // the same kernel under each setting, to show what SIMD flavour and threads each buy
      const variants: [string, CpuKernelOptions][] = [
        ['relaxed SIMD, 2 threads', { simd: 'relaxed', threads: 2 }],
        ['relaxed SIMD, 1 thread', { simd: 'relaxed', threads: 1 }],
        ['SIMD128, 2 threads', { simd: 'simd', threads: 2 }],
        ['SIMD128, 1 thread', { simd: 'simd', threads: 1 }],
        ['TypeScript', { simd: 'off', threads: 1 }],
      ];
      const vrows: (string | number | undefined)[][] = [];
      for (const [name, opts] of variants) {
        if (opts.simd === 'relaxed' && !info.relaxedSimdAvailable) continue;
        setCpuKernelOptions(opts);
        await cpuWorkersReady();
        const row: (string | number | undefined)[] = [name];
        for (const size of sizes) row.push(opts.simd === 'off' && size[0]! >= 1024 ? undefined : await ours(size));
        vrows.push(row);
      }
      setCpuKernelOptions({ simd: 'auto', threads: 'auto' });
      await cpuWorkersReady();
      tables.push({ title: 'tapegrad matmul kernel variants, GFLOP/s', columns: ['kernel', ...sizes.map(label)], rows: vrows });
    }
    return tables;
  },
});
