import { nn, noGrad } from 'tapegrad';
import { getBackend, manualSeed, randn, tidy, type Tensor } from '@tapegrad/tensor';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { defineSuite, fmt, speedup, type Cell } from '../harness.js';

// The recurrent layers (issue 16) on a [32, 64, 128] batch (batch 32, 64 steps, 128 features,
// batch first), hidden size 128, float32, beside PyTorch: the forward pass without autograd (as
// inference runs it), and forward + backward from a fixed output gradient (a training step without
// the optimizer). tapegrad writes the layers
// with tensor ops, so a step of the recurrence is a handful of dispatched kernels; the table also
// counts them (PyTorch runs each layer as one fused op).
const [B, T, F, H] = [32, 64, 128, 128];
const MODELS = [
  { name: 'LSTM, 2 layers', make: () => new nn.LSTM(F, H, { numLayers: 2, batchFirst: true }), torch: `torch.nn.LSTM(${F}, ${H}, num_layers=2, batch_first=True)`, layers: 2 },
  { name: 'GRU, 2 layers', make: () => new nn.GRU(F, H, { numLayers: 2, batchFirst: true }), torch: `torch.nn.GRU(${F}, ${H}, num_layers=2, batch_first=True)`, layers: 2 },
  { name: 'LSTM, 1 layer, bidirectional', make: () => new nn.LSTM(F, H, { bidirectional: true, batchFirst: true }), torch: `torch.nn.LSTM(${F}, ${H}, bidirectional=True, batch_first=True)`, layers: 2 },
];

/** How many kernels the CPU backend runs during fn (views and the tape's bookkeeping are not kernels). */
function kernelRuns(fn: () => void): number {
  const backend = getBackend('cpu');
  const run = backend.run;
  let n = 0;
  backend.run = (...args) => {
    n++;
    return run.apply(backend, args);
  };
  try {
    fn();
  } finally {
    backend.run = run;
  }
  return n;
}

export default defineSuite({
  name: 'sequence',
  async run(ctx) {
    const opts = { warmup: 3, reps: ctx.quick ? 3 : 11, minMs: 0 };
    const torch = ctx.torch<[number, number][]>(`
torch.manual_seed(0)
out = []
for m in [${MODELS.map((m) => m.torch).join(', ')}]:
    x = torch.randn(${B}, ${T}, ${F})
    seed = torch.randn(m(x)[0].shape)
    def step():
        m.zero_grad(set_to_none=True)
        m(x)[0].backward(seed)
    def forward():
        with torch.no_grad():
            m(x)
    out.append([bench(forward, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0), bench(step, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0)])
print(json.dumps(out))
`);
    const rows: Cell[][] = [];
    for (const [i, model] of MODELS.entries()) {
      manualSeed(0);
      const m = model.make();
      const x = randn([B, T, F]);
      const seed = tidy(() => randn(m.forward(x)[0].shape));
      const forward = () => noGrad(() => tidy(() => void m.forward(x)));
      const step = () => {
        m.zeroGrad();
        tidy(() => (m.forward(x)[0] as Tensor).backward(seed));
      };
      const steps = T * model.layers;
      const fwdRuns = kernelRuns(forward) / steps, stepRuns = kernelRuns(step) / steps;
      const fwd = (await ctx.time(forward, opts)).median;
      const both = (await ctx.time(step, opts)).median;
      m.zeroGrad();
      m.dispose();
      for (const t of [x, seed]) t.dispose();
      const [pf, pb] = torch?.[i] ?? [undefined, undefined];
      rows.push([model.name, fwd, both, pf, pb, speedup(fwd, pf), speedup(both, pb), `${fmt(fwdRuns, 3)} / ${fmt(stepRuns, 3)}`]);
    }
    const info = cpuKernelInfo();
    return [{
      title: `Recurrent layers on [${B}, ${T}, ${F}] (batch first), hidden ${H}, float32: ms per call (lower is better)`,
      columns: ['model', 'tapegrad fwd (no grad)', 'tapegrad fwd+bwd', 'PyTorch fwd (no grad)', 'PyTorch fwd+bwd', 'vs PyTorch fwd', 'vs PyTorch fwd+bwd', 'kernels per step and layer (fwd / fwd+bwd)'],
      rows,
      notes: [
        `tapegrad: WebAssembly ${info.simd}, ${info.threads} thread(s); PyTorch: ${torch ? 'torch CPU, default threads' : 'not available'}.`,
        'Kernels per step: CPU kernels run per time step of each layer and direction, the per-layer work (input projections, joining the outputs) included; views are not kernels.',
      ],
    }];
  },
});
