import { cat, indexSelect, manualSeed, pad, randn, tensor, tidy, zeros, type PadMode, type Tensor } from '@tapegrad/tensor';
import '@tapegrad/autograd';
import { defineSuite, speedup, type Cell } from '../harness.js';

// pad is one kernel (the op 'remap': each output element computes where it reads, one pass
// over the output for any number of padded dims, and one pass back). The alternative it
// replaced on the drawing board is a composite per padded dim: cat with zero borders for
// constant padding, an indexSelect of mirrored indices for reflect (a full pass per dim, and for
// reflect a scatterAdd back). Convnet-sized activations, forward and forward + backward.
const CASES: { name: string; shape: number[]; padding: number[]; mode: PadMode }[] = [
  { name: 'constant 1, 64x16x28x28', shape: [64, 16, 28, 28], padding: [1, 1, 1, 1], mode: 'constant' },
  { name: 'reflect 2, 64x16x28x28', shape: [64, 16, 28, 28], padding: [2, 2, 2, 2], mode: 'reflect' },
  { name: 'replicate 1, 16x32x64x64', shape: [16, 32, 64, 64], padding: [1, 1, 1, 1], mode: 'replicate' },
];

/** The per-dim composite: cat for constant padding, indexSelect of the source indices otherwise. */
function padComposite(x: Tensor, padding: number[], mode: PadMode): Tensor {
  return tidy(() => {
    let y = x;
    for (let k = 0; k < padding.length / 2; k++) {
      const dim = x.ndim - 1 - k;
      const [lo, hi] = [padding[2 * k]!, padding[2 * k + 1]!];
      const n = y.shape[dim]!;
      if (mode === 'constant') {
        const border = (size: number) => zeros(y.shape.map((s, d) => (d === dim ? size : s)));
        y = cat([border(lo), y, border(hi)], dim);
      } else {
        const source = Array.from({ length: n + lo + hi }, (_, o) => {
          const p = o - lo;
          return mode === 'reflect' ? (p < 0 ? -p : p >= n ? 2 * (n - 1) - p : p) : Math.min(Math.max(p, 0), n - 1);
        });
        y = indexSelect(y, dim, tensor(source, { dtype: 'int32' }));
      }
    }
    return y;
  });
}

export default defineSuite({
  name: 'pad',
  async run(ctx) {
    const opts = { warmup: 3, reps: ctx.quick ? 3 : 15, minMs: 0 };
    const torch = ctx.torch<[number, number][]>(`
import torch.nn.functional as F
torch.manual_seed(0)
out = []
for shape, padding, mode in ${JSON.stringify(CASES.map((c) => [c.shape, c.padding, c.mode]))}:
    x = torch.randn(shape, requires_grad=True)
    seed = torch.randn(F.pad(x, padding, mode=mode).shape)
    def step():
        x.grad = None
        F.pad(x, padding, mode=mode).backward(seed)
    out.append([bench(lambda: F.pad(x, padding, mode=mode), warmup=${opts.warmup}, reps=${opts.reps}, min_s=0), bench(step, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0)])
print(json.dumps(out))
`);
    const rows: Cell[][] = [];
    for (const [i, c] of CASES.entries()) {
      manualSeed(0);
      const x = randn(c.shape).requiresGrad_();
      const seed = tidy(() => randn(pad(x, c.padding, { mode: c.mode }).shape));
      const timings: number[] = [];
      for (const f of [(t: Tensor) => pad(t, c.padding, { mode: c.mode }), (t: Tensor) => padComposite(t, c.padding, c.mode)]) {
        timings.push((await ctx.time(() => tidy(() => void f(x)), opts)).median);
        timings.push((await ctx.time(() => {
          tidy(() => f(x).backward(seed));
          x.grad = (x.grad?.dispose(), null);
        }, opts)).median);
      }
      x.dispose();
      seed.dispose();
      const [pf, pb] = torch?.[i] ?? [undefined, undefined];
      rows.push([c.name, timings[0], timings[1], timings[2], timings[3], pf, pb, speedup(timings[1], pb)]);
    }
    return [{
      title: 'pad, float32: ms per call (lower is better)',
      columns: ['case', 'kernel fwd', 'kernel fwd+bwd', 'composite fwd', 'composite fwd+bwd', 'PyTorch fwd', 'PyTorch fwd+bwd', 'kernel vs PyTorch fwd+bwd'],
      rows,
      notes: [`PyTorch: ${torch ? 'torch CPU, default threads' : 'not available'}. The composite: per padded dim, cat with zeros (constant) or an indexSelect of the source indices.`],
    }];
  },
});
