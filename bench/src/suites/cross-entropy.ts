import '@tapegrad/autograd';
import { functional as F } from '@tapegrad/nn';
import { gather, manualSeed, mean, neg, randint, randn, reshape, tidy, type Tensor } from '@tapegrad/tensor';
import { defineSuite, fmt, median, speedup, timePair } from '../harness.js';

/** Median CPU time of this process per call of fn, ms (after one untimed call). */
function cpuMs(fn: () => void, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.cpuUsage();
    fn();
    const t = process.cpuUsage(t0);
    ts.push((t.user + t.system) / 1000);
  }
  return median(ts);
}

// Forward+backward of mean cross-entropy over float32 logits (N x C, class-index targets): the
// fused crossEntropy op (the forward's passes per row write the exps it sums, the backward scales
// them), the unfused tapegrad chain
// logSoftmax -> gather -> mean, TensorFlow.js's tf.losses.softmaxCrossEntropy on its wasm and cpu
// backends, and (when Debian's PyTorch is there) F.cross_entropy. The machine is shared, so the
// fused kernel and PyTorch are also timed in CPU time (process.cpuUsage, time.process_time: both
// run on one thread here), which other processes disturb far less than wall time.
const SIZES: [number, number][] = [[64, 10], [4096, 1000], [512, 32000]];

export default defineSuite({
  name: 'cross-entropy',
  async run(ctx) {
    const sizes = ctx.quick ? SIZES.slice(0, 2) : SIZES;
    // PyTorch's F.cross_entropy on the same shapes, in one Python process for all sizes.
    const torch = ctx.torch<[number, [number, number][]]>(`
import torch.nn.functional as F
def cpu_ms(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.process_time(); fn(); ts.append((time.process_time() - t0) * 1e3)
    return statistics.median(ts)
out = []
for N, C in ${JSON.stringify(sizes)}:
    x = torch.randn(N, C, requires_grad=True)
    t = torch.randint(0, C, (N,))
    def step():
        F.cross_entropy(x, t).backward()
        x.grad = None
    big = N * C > 1e6
    out.append([bench(step, warmup=1 if big else 3, reps=5 if big else 11), cpu_ms(step, 5 if big else 21)])
print(json.dumps([torch.get_num_threads(), out]))
`);
    const rows = [];
    for (const [i, [N, C]] of sizes.entries()) {
      manualSeed(0);
      const x = randn([N, C]).requiresGrad_();
      const target = randint(0, C, [N], { dtype: 'int32' });
      const column = reshape(target, [N, 1]);
      const step = (loss: () => Tensor) => () => {
        tidy(() => loss().backward());
        x.grad = (x.grad?.dispose(), null);
      };
      const big = N * C > 1e6;
      const opts = big ? { warmup: 1, reps: 5, minMs: 0 } : { warmup: 3, reps: ctx.quick ? 5 : 11 };
      const pair = await timePair(step(() => F.crossEntropy(x, target)), step(() => neg(mean(gather(F.logSoftmax(x, 1), 1, column)))), opts);
      const fused = pair.a.median, unfused = pair.b.median;
      const fusedCpu = cpuMs(step(() => F.crossEntropy(x, target)), big ? 5 : 21);

      // TensorFlow.js's softmaxCrossEntropy takes one-hot labels, built outside the timing
      const peer = async (backend: 'cpu' | 'wasm') => {
        const { tf } = await ctx.tfjs(backend); // selects tfjs's one global backend
        const logits = tf.tensor2d(x.dataSync() as Float32Array, [N, C]);
        const onehot = tf.oneHot(tf.tensor1d(target.dataSync() as Int32Array, 'int32'), C);
        const grad = tf.grad((z) => tf.losses.softmaxCrossEntropy(onehot, z));
        const ms = (await ctx.time(() => tf.tidy(() => void grad(logits).dataSync()), { warmup: 1, reps: 3, minMs: 0 })).median;
        tf.dispose([logits, onehot]);
        return ms;
      };
      const tfCpu = await peer('cpu'), tfWasm = await peer('wasm');
      for (const t of [x, target, column]) t.dispose();
      // forward reads the logits and writes the exps, backward reads those and writes the gradient
      const gbps = (4 * N * C * 4) / (fused * 1e6);
      const [pt, ptCpu] = torch?.[1][i] ?? [];
      rows.push([`${N}x${C}`, fused, unfused, tfWasm, tfCpu, pt, `${fmt(pair.ratio, 2)}x`, speedup(fused, tfWasm), speedup(fused, tfCpu), speedup(fused, pt), fusedCpu, ptCpu, speedup(fusedCpu, ptCpu), gbps, `${fmt((100 * gbps) / ctx.bandwidth, 2)}%`]);
    }
    return [{
      title: 'cross-entropy forward+backward, mean, float32 (ms, lower is better)',
      columns: ['N x C', 'fused', 'unfused chain', 'tfjs wasm', 'tfjs cpu', 'PyTorch', 'fused vs unfused', 'vs tfjs wasm', 'vs tfjs cpu', 'vs PyTorch', 'fused CPU ms', 'PyTorch CPU ms', 'vs PyTorch, CPU time', 'fused GB/s', 'of copy bandwidth'],
      rows,
      notes: [
        `GB/s counts 4·N·C·4 bytes (forward reads the logits and writes the exps, backward reads them and writes the gradient); copy bandwidth this run: ${fmt(ctx.bandwidth)} GB/s.`,
        'fused vs unfused is the median of per-round ratios, the two timed in alternating calls so that load from other processes falls on both alike.',
        'The fused kernel computes one exp per element, in the forward, which bounds it (WebAssembly SIMD: 4 lanes, no fused multiply-add); the backward is a pass over memory.',
        `CPU ms: median CPU time of the process per call (tapegrad: process.cpuUsage; PyTorch: time.process_time, ${torch ? `${torch[0]} thread(s)` : 'not run'}); the wall-time columns swing with the load of a shared machine, these much less.`,
      ],
    }];
  },
});
