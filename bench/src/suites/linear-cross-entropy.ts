import '@tapegrad/autograd';
import { functional as F } from '@tapegrad/nn';
import { manualSeed, memory, randint, randn, resetPeakMemory, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import { defineSuite, fmt, median, timePair } from '../harness.js';

// issue 16: a language model's output layer and loss, forward + backward, mean over N = 4096
// tokens: F.linearCrossEntropy (chunks of rows; the (N, V) logits never exist whole) against the
// unfused pair crossEntropy(linear(h, W, b), target), and PyTorch's unfused pair when Debian's
// PyTorch is there. Memory is tapegrad's memory().peakBytes over the step, less what was live
// before it (inputs, weights): what the loss needs at its worst, gradients included.
const N = 4096;
const D = 128;
const SIZES = [32_000, 128_000];

export default defineSuite({
  name: 'linear-cross-entropy',
  async run(ctx) {
    const sizes = ctx.quick ? SIZES.slice(0, 1) : SIZES;
    const torch = ctx.torch<number[]>(`
import torch.nn.functional as F
out = []
for V in ${JSON.stringify(sizes)}:
    h = torch.randn(${N}, ${D}, requires_grad=True)
    W = (0.05 * torch.randn(V, ${D})).requires_grad_()
    b = torch.zeros(V, requires_grad=True)
    t = torch.randint(0, V, (${N},))
    def step():
        F.cross_entropy(F.linear(h, W, b), t).backward()
        h.grad = W.grad = b.grad = None
    out.append(bench(step, warmup=1, reps=3, min_s=0))
print(json.dumps(out))
`);
    const rows = [];
    for (const [i, V] of sizes.entries()) {
      manualSeed(0);
      const h = randn([N, D]).requiresGrad_();
      const W = randn([V, D]).mul(0.05).requiresGrad_();
      const b = zeros([V]).requiresGrad_();
      const target = randint(0, V, [N], { dtype: 'int32' });
      const peaks = { fused: 0, unfused: 0 };
      // CPU time of the process (its worker threads included), which load from other processes disturbs less than wall time
      const cpuMs = { fused: [] as number[], unfused: [] as number[] };
      const step = (which: keyof typeof peaks, loss: () => Tensor) => () => {
        const base = memory().bytes;
        resetPeakMemory();
        const c0 = process.cpuUsage();
        tidy(() => loss().backward());
        const c = process.cpuUsage(c0);
        cpuMs[which].push((c.user + c.system) / 1000);
        peaks[which] = Math.max(peaks[which], memory().peakBytes - base);
        for (const p of [h, W, b]) p.grad = (p.grad?.dispose(), null);
      };
      // the unfused pair at V = 128,000 holds 2 GB of logits, beyond what the WebAssembly memory
      // takes: its products fall back to the TypeScript kernels and a step takes minutes, so once
      const big = V > 64_000;
      const pair = await timePair(
        step('fused', () => F.linearCrossEntropy(h, W, target, { bias: b })),
        step('unfused', () => F.crossEntropy(F.linear(h, W, b), target)),
        big ? { warmup: 0, reps: 1, minMs: 0 } : { warmup: 1, reps: 5, minMs: 0 },
      );
      for (const t of [h, W, b, target]) t.dispose();
      const mb = (bytes: number) => fmt(bytes / 2 ** 20, 4);
      const pt = torch?.[i];
      const cpuRatio = median(cpuMs.unfused.map((u, k) => u / cpuMs.fused[k]!));
      rows.push([`${N}x${D}->${fmt(V / 1000, 3)}k`, mb(N * V * 4), mb(peaks.fused), mb(peaks.unfused), `${fmt(peaks.unfused / peaks.fused, 3)}x`, pair.a.median, pair.b.median, `${fmt(pair.ratio, 3)}x`, `${fmt(cpuRatio, 3)}x`, pt]);
    }
    return [{
      title: `linearCrossEntropy forward+backward, mean, float32, N = ${N}, D = ${D}`,
      columns: ['N x D -> V', 'logits MB', 'fused peak MB', 'unfused peak MB', 'memory saved', 'fused ms', 'unfused ms', 'fused vs unfused', 'in CPU time', 'PyTorch unfused ms'],
      rows,
      notes: [
        'peak MB: memory().peakBytes during one forward+backward, less the bytes live before it (inputs, weights); it counts tensors, not kernels\' scratch (the gemm\'s packing blocks: a few MB).',
        'fused vs unfused: the median of per-round time ratios (above 1: the fused op is faster), the two timed in alternating calls, in wall time and in the process\'s CPU time (its worker threads included, warm-up rounds too); at V = 128,000 one round (the unfused step takes minutes).',
        'The fused op computes the gradients in its forward when they will be needed (reduced loss, grad mode on), so a step does the three products the unfused pair does, and two exp passes.',
      ],
    }];
  },
});
