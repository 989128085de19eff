import { cpuBackend, cpuKernelInfo } from '@tapegrad/backend-cpu';
import { compile, initWebGPU, manualSeed, nn, optim, randint, randn, tidy, type Tensor } from 'tapegrad';
import { defineSuite, fmt, median, roundRatios, timePair, type Cell } from '../harness.js';
import { makeModel } from './mnist-epoch.js';

// compile (issue 19): the kernels replayed without dispatch, tape or Tensor objects for
// intermediates, with and without its fusion passes (elementwise chains into one kernel, epilogues
// into the matmul or convolution before them, kernels sharing operands combined). For the MNIST
// MLP and CNN training steps (batch 64, SGD with momentum 0.9, as mnist-epoch): the kernel
// calls each step makes, counted at the CPU backend's run() for an eager step and for a replay
// (and dispatches on WebGPU, where an adapter is found), with what eager does besides; steps per second eager and compiled, taken in
// turns in one process (a ratio per pair of samples, its median quoted: this machine is shared);
// an MLP epoch of 938 steps on one batch, eager and compiled from fresh models, in rounds;
// PyTorch's eager step beside (torch 1.13 has no torch.compile).
const B = 64, LR = 0.01, MOMENTUM = 0.9, EPOCH = 938;

function trainer(kind: 'mlp' | 'cnn', device = 'cpu') {
  manualSeed(0);
  const model = makeModel(kind).to(device);
  const opt = new optim.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
  const step = (x: Tensor, y: Tensor) => {
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss;
  };
  const dispose = () => {
    opt.zeroGrad();
    for (const p of model.parameters()) p.dispose();
    for (const s of opt.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
  };
  return { eager: (x: Tensor, y: Tensor) => tidy(() => step(x, y)), step, dispose };
}

/** Dispatches per MNIST step on WebGPU (the software adapter here), eager, compiled unfused and compiled; undefined without an adapter. */
async function webgpuDispatches() {
  let backend: Awaited<ReturnType<typeof initWebGPU>>;
  try {
    backend = await initWebGPU();
  } catch {
    return undefined;
  }
  const rows: Cell[][] = [];
  for (const kind of ['mlp', 'cnn'] as const) {
    manualSeed(1);
    const x = randn(kind === 'mlp' ? [B, 784] : [B, 1, 28, 28]).to('webgpu'), y = randint(0, 10, [B]).to('webgpu');
    const e = trainer(kind, 'webgpu'), c = trainer(kind, 'webgpu'), u = trainer(kind, 'webgpu');
    const compiled = compile(c.step), unfused = compile(u.step, { fuse: false });
    for (let i = 0; i < 3; i++) [e.eager(x, y), compiled(x, y), unfused(x, y)].forEach((t) => t.dispose());
    const count = (fn: () => Tensor) => {
      const before = backend.counters.dispatches;
      fn().dispose();
      return backend.counters.dispatches - before;
    };
    const [de, du, dc] = [count(() => e.eager(x, y)), count(() => unfused(x, y)), count(() => compiled(x, y))];
    rows.push([kind, de, du, dc, `${fmt(de / dc, 2)}x`, compiled.stats().graphs[0]!.fused.join(', ')]);
    await backend.sync();
    for (const t of [e, c, u]) t.dispose();
    compiled.reset(), unfused.reset();
    x.dispose(), y.dispose();
  }
  return {
    title: 'Dispatches per training step (WebGPU, batch 64, SGD momentum): eager, compiled without fusion, compiled',
    columns: ['model', 'eager dispatches', 'compiled, unfused', 'compiled', 'fewer than eager', 'fused kernels'],
    rows,
    notes: ['Compute dispatches counted by the backend for one eager step and one replay. relu runs in the store of the linear or conv2d before it, relu\'s backward in the matmul or maxPool2dBackward that makes its gradient; the last linear, crossEntropy (two dispatches eager) and its backward are one dispatch; a linear layer\'s input gradient runs beside its weight gradient (whose bias sums it computes) in one dispatch; each conv2d computes its relu and the 2x2 max pool after it, and a convolution\'s three gradients, with the pool backward before it in its input gradient\'s store, are one dispatch; the multi-tensor optimizer step runs in the dispatch of the matmul or conv2dWeightGrad that writes the last gradients, the parameters past a dispatch\'s storage bindings in foreach dispatches after it (docs/compiler.md, "What it fuses").'],
  };
}

/** Kernel calls the CPU backend runs during fn. */
function kernelCalls(fn: () => void): number {
  const run = cpuBackend.run;
  let n = 0;
  cpuBackend.run = (...a) => (n++, run(...a));
  try {
    fn();
  } finally {
    cpuBackend.run = run;
  }
  return n;
}

export default defineSuite({
  name: 'compile',
  async run(ctx) {
    manualSeed(1);
    const data = { mlp: [randn([B, 784]), randint(0, 10, [B])], cnn: [randn([B, 1, 28, 28]), randint(0, 10, [B])] } as Record<'mlp' | 'cnn', [Tensor, Tensor]>;
    const calls: Cell[][] = [], speed: Cell[][] = [];
    for (const kind of ['mlp', 'cnn'] as const) {
      const [x, y] = data[kind];
      const e = trainer(kind), c = trainer(kind), u = trainer(kind);
      const compiled = compile(c.step), unfused = compile(u.step, { fuse: false });
      for (let i = 0; i < 3; i++) {
        e.eager(x, y).dispose();
        compiled(x, y).dispose();
        unfused(x, y).dispose();
      }
      const eagerCalls = kernelCalls(() => e.eager(x, y).dispose());
      const unfusedCalls = kernelCalls(() => unfused(x, y).dispose());
      const replayCalls = kernelCalls(() => compiled(x, y).dispose());
      const g = compiled.stats().graphs[0]!, gu = unfused.stats().graphs[0]!;
      calls.push([kind, eagerCalls, unfusedCalls, replayCalls, `${fmt(eagerCalls / replayCalls, 2)}x`, g.fused.join(", "), g.eagerDispatches, g.eagerTensors, `${fmt(gu.plannedBytes / 1024)} / ${fmt(g.plannedBytes / 1024)}`]);
      // a: compiled, b: eager, so the ratio is how many times faster compiled is
      const pair = await timePair(() => compiled(x, y).dispose(), () => e.eager(x, y).dispose(), { warmup: 20, reps: ctx.quick ? 30 : 200, minMs: ctx.quick ? 300 : 3000 });
      // and what fusion adds to replay: fused against unfused
      const fusion = await timePair(() => compiled(x, y).dispose(), () => unfused(x, y).dispose(), { warmup: 20, reps: ctx.quick ? 30 : 200, minMs: ctx.quick ? 300 : 3000 });
      const torch = ctx.torch<number>(`
import torch.nn as nn
torch.manual_seed(0)
B = ${B}
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)) if '${kind}' == 'mlp' else nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 49, 10))
opt = torch.optim.SGD(model.parameters(), lr=${LR}, momentum=${MOMENTUM})
x = torch.randn(B, 784) if '${kind}' == 'mlp' else torch.randn(B, 1, 28, 28)
y = torch.randint(0, 10, (B,))
def step():
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(20): step()
ts = []
for _ in range(${ctx.quick ? 30 : 200}):
    t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
ts.sort()
print(json.dumps(ts[len(ts) // 2] * 1000))
`);
      speed.push([kind, 1000 / pair.b.median, 1000 / fusion.b.median, 1000 / pair.a.median, `${fmt(pair.ratio, 2)}x`, `${fmt(fusion.ratio, 2)}x`, torch === undefined ? undefined : 1000 / torch]);
      e.dispose();
      c.dispose();
      u.dispose();
      compiled.reset();
      unfused.reset();
    }
    const gpuCalls = await webgpuDispatches();

    // an MLP epoch from fresh models, in rounds that alternate which goes first (the first of a
    // process also warms up the kernels both use)
    const [x, y] = data.mlp;
    const steps = ctx.quick ? 100 : EPOCH;
    const rounds = ctx.quick ? 2 : 4;
    const eagerMs: number[] = [], compiledMs: number[] = [], ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const e = trainer('mlp'), c = trainer('mlp');
      const compiled = compile(c.step);
      const eagerEpoch = () => ctx.epoch(() => e.eager(x, y).dispose(), steps);
      const compiledEpoch = () => ctx.epoch(() => compiled(x, y).dispose(), steps);
      const [te, tc] = r % 2 ? [await eagerEpoch(), await compiledEpoch()] : await compiledEpoch().then(async (t) => [await eagerEpoch(), t]);
      eagerMs.push(te.totalMs);
      compiledMs.push(tc.totalMs);
      ratios.push(te.totalMs / tc.totalMs);
      e.dispose();
      c.dispose();
      compiled.reset();
    }
    for (const [a, b] of Object.values(data)) a.dispose(), b.dispose();

    const info = cpuKernelInfo();
    return [
      {
        title: 'Kernel calls per training step (CPU, batch 64, SGD momentum): eager, compiled without fusion, compiled',
        columns: ['model', 'eager kernel calls', 'compiled, unfused', 'compiled', 'fewer than eager', 'fused kernels', 'eager dispatches (with views, host writes)', 'eager Tensor objects', 'planned KiB unfused / fused'],
        rows: calls,
        notes: ['Kernel calls counted at the CPU backend\'s run(), for one eager step and one replay. An unfused replay runs the kernels the eager step ran, in the same order, and drops the rest of the eager step: dispatch (shape inference, kernel lookup, views), the tape, and a Tensor object per intermediate. Fusion merges an elementwise epilogue into the kernel before it (linear + relu; relu\'s backward after the matmul or pooling backward that makes its gradient), whose intermediate then needs no memory, and combines kernels that share operands into one call: the last linear with crossEntropy and its backward, each weight gradient with its bias\'s sum and the layer\'s input gradient, each conv2d (with relu) with the max pool after it, a convolution\'s three gradients with the pool backward that reads its input gradient, and the optimizer\'s step with the group that writes the last gradients.'],
      },
      ...(gpuCalls ? [gpuCalls] : []),
      {
        title: `Training steps per second (CPU, WebAssembly ${info.simd}, ${info.threads} thread(s)): eager and compiled, PyTorch eager beside`,
        columns: ['model', 'tapegrad eager steps/s', 'compiled, unfused steps/s', 'compiled steps/s', 'compiled vs eager', 'fused vs unfused', 'PyTorch steps/s'],
        rows: speed,
        notes: ['Steps taken in turns after a warm-up, in two pairs (compiled with eager, compiled with unfused); speed-ups: the median of the per-pair ratios. PyTorch 1.13 (no torch.compile), median step.'],
      },
      {
        title: `MLP epoch: ${steps} steps on one batch from a fresh model (seconds; lower is better)`,
        columns: ['', 'eager s', 'compiled s', 'compiled speed-up'],
        rows: [['784-128-10, batch 64', median(eagerMs) / 1000, median(compiledMs) / 1000, roundRatios(ratios)]],
        notes: [`Medians over ${rounds} rounds, which take turns at going first; the speed-up is the median of the per-round ratios (range in brackets). Each epoch includes its warm-up: V8 compiling eager's dispatch path takes hundreds of steps, a replay's loop far fewer. The issue's goal for the compiled epoch is 1.5x today's eager one.`],
      },
    ];
  },
});
