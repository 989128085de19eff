import { cpuBackend, cpuKernelInfo } from '@tapegrad/backend-cpu';
import { compile, manualSeed, nn, optim, randint, randn, tidy, type Tensor } from 'tapegrad';
import { defineSuite, fmt, median, roundRatios, timePair, type Cell } from '../harness.js';
import { makeModel } from './mnist-epoch.js';

// compile (issue 19) before its fusion passes: the same kernels, replayed without dispatch, tape
// or Tensor objects for intermediates. For the MNIST MLP and CNN training steps (batch 64, SGD
// with momentum 0.9, as mnist-epoch): the kernel calls each step makes, counted at the CPU
// backend's run() for an eager step and for a replay, with what eager does besides; steps per
// second eager and compiled, taken in turns in one process (a ratio per pair of samples, its
// median quoted: this machine is shared); an MLP epoch of 938 steps on one batch, eager and
// compiled from fresh models, in rounds; PyTorch's eager step beside (torch 1.13 has no
// torch.compile).
const B = 64, LR = 0.01, MOMENTUM = 0.9, EPOCH = 938;

function trainer(kind: 'mlp' | 'cnn') {
  manualSeed(0);
  const model = makeModel(kind);
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
      const e = trainer(kind), c = trainer(kind);
      const compiled = compile(c.step);
      for (let i = 0; i < 3; i++) {
        e.eager(x, y).dispose();
        compiled(x, y).dispose();
      }
      const eagerCalls = kernelCalls(() => e.eager(x, y).dispose());
      const replayCalls = kernelCalls(() => compiled(x, y).dispose());
      const g = compiled.stats().graphs[0]!;
      calls.push([kind, eagerCalls, replayCalls, `${fmt(eagerCalls / replayCalls, 2)}x`, g.eagerDispatches, g.eagerTensors, g.plannedBytes / 1024, g.peakBytes / 1024]);
      // a: compiled, b: eager, so the ratio is how many times faster compiled is
      const pair = await timePair(() => compiled(x, y).dispose(), () => e.eager(x, y).dispose(), { warmup: 20, reps: ctx.quick ? 30 : 200, minMs: ctx.quick ? 300 : 3000 });
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
      speed.push([kind, 1000 / pair.b.median, 1000 / pair.a.median, `${fmt(pair.ratio, 2)}x`, torch === undefined ? undefined : 1000 / torch]);
      e.dispose();
      c.dispose();
      compiled.reset();
    }

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
        title: 'Kernel calls per training step (CPU, batch 64, SGD momentum): eager and compiled (replay, no fusion yet)',
        columns: ['model', 'eager kernel calls', 'compiled kernel calls', 'fewer', 'eager dispatches (with views, host writes)', 'eager Tensor objects', 'planned KiB', 'peak KiB'],
        rows: calls,
        notes: ['Kernel calls counted at the CPU backend\'s run(), for one eager step and one replay. A replay runs the kernels the eager step ran, in the same order; what it drops is the rest of the eager step: dispatch (shape inference, kernel lookup, views), the tape, and a Tensor object per intermediate. Fusion passes would cut the kernel calls themselves.'],
      },
      {
        title: `Training steps per second (CPU, WebAssembly ${info.simd}, ${info.threads} thread(s)): eager and compiled, PyTorch eager beside`,
        columns: ['model', 'tapegrad eager steps/s', 'tapegrad compiled steps/s', 'compiled speed-up', 'PyTorch steps/s'],
        rows: speed,
        notes: ['Eager and compiled steps taken in turns after a warm-up; speed-up: the median of the per-pair ratios. PyTorch 1.13 (no torch.compile), median step.'],
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
