import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn, optim } from '../src/index.js';
import { MnistCnn } from './helpers.js';
import { buildProgram, numel, rng, run } from './random-programs.js';

// compile: a replay must leave exactly what eager leaves (bit for bit on the CPU: the same
// kernels in the same order), every guard must trace again, and every reason a function cannot
// be replayed must fall back to eager and say so. The suite also runs in poison mode, where a
// planned block handed to a kernel that does not write all of it would show as NaN.

const bits = (t: tg.Tensor) => Array.from(t.dataSync());
function expectSame(actual: tg.Tensor | null, expected: tg.Tensor | null, what: string): void {
  expect(actual === null, `${what}: null`).toBe(expected === null);
  if (!actual || !expected) return;
  expect(actual.shape, what).toEqual(expected.shape);
  expect(bits(actual), what).toEqual(bits(expected));
}

// ---- the MNIST MLP and CNN training steps -------------------------------------------------
type ModelName = 'mlp' | 'cnn';
type OptName = 'sgd' | 'adam';
function trainer(model: ModelName, opt: OptName, steps: number, options: { dropout?: boolean } = {}) {
  tg.manualSeed(7);
  const m = model === 'mlp'
    ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 32), new nn.ReLU(), ...(options.dropout ? [new nn.Dropout(0.3)] : []), new nn.Linear(32, 10))
    : new MnistCnn();
  const o: optim.Optimizer<{ lr: number }> = opt === 'sgd' ? new optim.SGD(m.parameters(), { lr: 0.05, momentum: 0.9 }) : new optim.Adam(m.parameters(), { lr: 0.005 });
  // the rate (and SGD's momentum, Adam's beta1) changes every step: values a replay must read anew
  const schedule = new optim.OneCycleLR(o, { maxLr: opt === 'sgd' ? 0.1 : 0.01, totalSteps: steps });
  const step = (x: tg.Tensor, y: tg.Tensor) => {
    const loss = nn.functional.crossEntropy(m.forward(x), y);
    o.zeroGrad();
    loss.backward();
    o.step();
    return loss;
  };
  return { m, o, schedule, step };
}
function batches(model: ModelName, n: number, size: number): [tg.Tensor, tg.Tensor][] {
  tg.manualSeed(3);
  return Array.from({ length: n }, () => [tg.randn(model === 'mlp' ? [size, 784] : [size, 1, 28, 28]), tg.randint(0, 10, [size])]);
}
function expectSameState(a: ReturnType<typeof trainer>, b: ReturnType<typeof trainer>, what: string): void {
  const pa = a.m.parameters(), pb = b.m.parameters();
  pa.forEach((p, k) => {
    expectSame(pb[k]!, p, `${what}: parameter ${k}`);
    expectSame(pb[k]!.grad, p.grad, `${what}: grad ${k}`);
    expect(pb[k]!.version, `${what}: version ${k}`).toBe(p.version);
    const sa = a.o.state.get(p)!, sb = b.o.state.get(pb[k]!)!;
    for (const [key, v] of Object.entries(sa)) {
      if (typeof v === 'number') expect(sb[key], `${what}: state ${key} ${k}`).toBe(v);
      else expectSame(sb[key] as tg.Tensor, v, `${what}: state ${key} ${k}`);
    }
  });
}
function trainBoth(model: ModelName, opt: OptName, steps: number, options: { dropout?: boolean } = {}) {
  const data = batches(model, 4, model === 'mlp' ? 16 : 4);
  const eager = trainer(model, opt, steps, options);
  const compiled = trainer(model, opt, steps, options);
  const step = tg.compile(compiled.step);
  for (let i = 0; i < steps; i++) {
    const [x, y] = data[i % data.length]!;
    tg.manualSeed(100 + i); // dropout's masks: the same generator state on both sides
    const le = tg.tidy(() => eager.step(x, y));
    eager.schedule.step();
    tg.manualSeed(100 + i);
    const lc = step(x, y);
    compiled.schedule.step();
    expectSame(lc, le, `step ${i}: loss`);
    expectSameState(eager, compiled, `step ${i}`);
    expect(lc.requiresGrad).toBe(false);
    le.dispose();
    lc.dispose();
  }
  for (const [x, y] of data) x.dispose(), y.dispose();
  return step;
}

describe('compiled training steps are bit-identical to eager', () => {
  for (const [model, opt, steps] of [['mlp', 'sgd', 30], ['mlp', 'adam', 30], ['cnn', 'sgd', 10], ['cnn', 'adam', 10]] as const) {
    it(`${model} with ${opt} and a one-cycle schedule: ${steps} steps, losses, parameters, gradients and optimizer state`, () => {
      const step = trainBoth(model, opt, steps);
      const s = step.stats();
      // the first call makes the optimizer's state (kept: the next call traces again); the second traces the step
      expect([s.traces, s.replays, s.eagerCalls]).toEqual([2, steps - 2, 0]);
      // the step's kernels, eager and replayed: the multi-tensor optimizer step is one kernel;
      // fusion takes relu into the product before it and reluBackward into the one after, and
      // combines the last linear with crossEntropy's forward and backward, each linear layer's
      // backward products with its bias's sum, the last gradients with the optimizer's step; in
      // the CNN, each conv2d with its relu and pool, and conv2's three gradients with pool1's
      // backward (an improvement of either moves these; a graph that lost kernels would too)
      expect([s.graphs[0]!.kernels, s.graphs[0]!.eagerKernels]).toEqual(model === 'mlp' ? [4, 12] : [7, 22]);
      expect(s.lastFallback).toBeUndefined();
    });
  }
  it('in poison mode too (planned blocks a later buffer takes over are poisoned first)', () => {
    const old = tg.setPoisonMode(true);
    try {
      expect(trainBoth('mlp', 'adam', 6).stats().replays).toBe(4);
    } finally {
      tg.setPoisonMode(old);
    }
  });
  it('with dropout: the masks are drawn again at each replay, from the same generator', () => {
    expect(trainBoth('mlp', 'sgd', 8, { dropout: true }).stats().replays).toBe(6);
  });
});

describe('random graphs: compiled forward and backward equal eager', () => {
  for (let g = 0; g < 40; g++) {
    const seed = 2000 + g;
    it(`graph ${seed}`, () => {
      const p = buildProgram(seed);
      const r = rng(seed * 31);
      const init = p.leaves.map((s) => Array.from({ length: numel(s) }, () => r() * 2 - 1));
      const leaves = () => p.leaves.map((s, k) => tg.tensor(init[k]!, { shape: s }).requiresGrad_());
      const step = (...xs: tg.Tensor[]) => {
        for (const x of xs) {
          x.grad?.dispose();
          x.grad = null;
        }
        const loss = run(p, xs);
        loss.backward();
        return loss;
      };
      const e = leaves();
      const expected = tg.tidy(() => step(...e));
      const c = leaves();
      const compiled = tg.compile(step);
      for (let rep = 0; rep < 4; rep++) {
        const loss = compiled(...c);
        expectSame(loss, expected, `repetition ${rep}: loss`);
        c.forEach((x, k) => expectSame(x.grad, e[k]!.grad, `repetition ${rep}: grad ${k}`));
        loss.dispose();
      }
      // the first call finds the .grads null, the second set: two graphs, then replays
      expect([compiled.stats().traces, compiled.stats().replays], compiled.explain()).toEqual([2, 2]);
      compiled.reset();
      for (const x of [...e, ...c, expected]) x.dispose();
    });
  }
});

// ---- guards -----------------------------------------------------------------------------
describe('guards: each traces again, and the new graph is right', () => {
  it('argument shapes and dtypes; a graph per outcome is kept and replayed', () => {
    const f = tg.compile((x: tg.Tensor) => x.mul(2).add(1));
    const a = tg.tensor([1, 2, 3]), b = tg.tensor([[1, 2], [3, 4]]), d = tg.tensor([1, 2, 3], { dtype: 'float64' });
    for (const x of [a, b, a, b, d, d]) expect(bits(f(x))).toEqual(bits(x.mul(2).add(1)));
    expect([f.stats().traces, f.stats().replays]).toEqual([3, 3]);
    expect(f.stats().lastRetrace).toBe('tensor argument 0 is float64 now, was float32');
    f(tg.tensor([5, 6]));
    expect(f.stats().lastRetrace).toBe('tensor argument 0 has shape [2] now, had [3]');
  });
  it('layout and requiresGrad of an argument', () => {
    const f = tg.compile((x: tg.Tensor) => tg.noGrad(() => x.exp()));
    const x = tg.tensor([[1, 2], [3, 4]]);
    f(x);
    expect(bits(f(x.T))).toEqual(bits(x.T.exp()));
    expect(f.stats().lastRetrace).toMatch(/^tensor argument 0 has another layout now/);
    f(x.clone().requiresGrad_());
    expect(f.stats().lastRetrace).toBe('tensor argument 0 requiresGrad is true now');
    expect(f.stats().traces).toBe(3);
  });
  it('grad mode', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const f = tg.compile((x: tg.Tensor) => {
      const y = x.mul(w).sum();
      if (y.requiresGrad) y.backward();
      return y;
    });
    const x = tg.tensor([3, 4]);
    f(x).dispose();
    tg.noGrad(() => f(x)).dispose();
    expect(f.stats().lastRetrace).toBe('grad mode is off now');
    expect(bits(w.grad!)).toEqual([3, 4]); // the noGrad graph ran no backward
    expect(f.stats().traces).toBe(2);
  });
  it('non-tensor arguments: numbers by value, objects by identity', () => {
    const f = tg.compile((x: tg.Tensor, k: number, o: object) => x.mul(k).add(Object.keys(o).length));
    const x = tg.tensor([1, 2]);
    const o = { a: 1 };
    expect(bits(f(x, 2, o))).toEqual([3, 5]);
    expect(bits(f(x, 2, o))).toEqual([3, 5]);
    expect(bits(f(x, 3, o))).toEqual([4, 7]);
    expect(f.stats().lastRetrace).toMatch(/^a non-tensor argument changed/);
    expect(bits(f(x, 3, { a: 1, b: 2 }))).toEqual([5, 8]);
    expect([f.stats().traces, f.stats().replays]).toEqual([3, 1]);
  });
  it('a captured tensor: frozen, or disposed and replaced in a module', () => {
    tg.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(3, 2));
    const x = tg.randn([4, 3]);
    const f = tg.compile(() => {
      model.zeroGrad();
      model.forward(x).square().sum().backward();
    });
    f();
    f();
    f();
    expect([f.stats().traces, f.stats().replays]).toEqual([2, 1]); // .grads null, then set
    const [w, b] = model.parameters() as [tg.Tensor, tg.Tensor];
    b.requiresGrad_(false);
    f();
    expect(f.stats().lastRetrace).toMatch(/^a captured tensor \(float32 \[2\]\) requiresGrad is false now|the \.grad of a captured tensor/);
    expect(b.grad).toBeNull();
    const expected = tg.tidy(() => x.T.matmul(x.matmul(w.T).add(b).mul(2)).T);
    expect(bits(w.grad!)).toEqual(bits(expected));
    // a layer replaced: the Sequential's own fields changed
    const old = model.parameters();
    (model as unknown as Record<string, unknown>)['0'] = new nn.Linear(3, 2);
    const traces = f.stats().traces;
    f();
    expect(f.stats().traces).toBeGreaterThan(traces);
    expect(model.parameters()[0]!.grad).not.toBeNull();
    for (const p of old) p.dispose();
  });
  it('a captured tensor disposed: traced again, and the eager run says what is wrong', () => {
    const w = tg.tensor([1, 2]);
    const f = tg.compile((x: tg.Tensor) => x.mul(w));
    const x = tg.tensor([3, 4]);
    f(x);
    f(x);
    w.dispose();
    expect(() => f(x)).toThrow('mul: tensor of shape [2] was disposed');
    expect(f.stats().lastRetrace).toBe('a captured tensor (float32 [2]) was disposed');
  });
  it("a module's training flag (Dropout)", () => {
    const drop = new nn.Dropout(0.5);
    const f = tg.compile((x: tg.Tensor) => drop.call(x));
    const x = tg.ones([64]);
    f(x);
    drop.eval();
    expect(bits(f(x))).toEqual(bits(x));
    expect(f.stats().lastRetrace).toBe("Dropout's training flag and fields changed");
  });
  it('.grad slots: null, then set', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const f = tg.compile(() => w.mul(w).sum().backward()); // accumulates, as eager does
    f();
    f();
    expect(f.stats().lastRetrace).toBe('the .grad of a captured tensor (float32 [2]) is set now; it was null');
    f();
    expect(bits(w.grad!)).toEqual([6, 12]);
    expect([f.stats().traces, f.stats().replays]).toEqual([2, 1]);
  });
  it("an optimizer's numbers baked into its unfused update, and its fused path's inputs", () => {
    for (const fused of [false, true]) {
      const w = tg.tensor([1, 2]).requiresGrad_();
      const opt = new optim.SGD([w], { lr: 0.5, momentum: 0.5, fused });
      const f = tg.compile(() => {
        opt.zeroGrad();
        w.square().sum().backward();
        opt.step();
      });
      for (let i = 0; i < 3; i++) f();
      const traces = f.stats().traces;
      opt.paramGroups[0]!.lr = 0.25;
      f();
      // unfused: the rate is a constant of the graph, so a new rate traces again; fused: the kernel reads it
      expect(f.stats().traces).toBe(fused ? traces : traces + 1);
      if (!fused) expect(f.stats().lastRetrace).toBe("SGD's hyperparameters (numbers in its unfused update) changed");
      opt.paramGroups[0]!.momentum = 0;
      f();
      expect(f.stats().lastRetrace).toMatch(/^SGD's hyperparameters/);
      // the same arithmetic eager does, from the same start
      const v = tg.tensor([1, 2]).requiresGrad_();
      const ref = new optim.SGD([v], { lr: 0.5, momentum: 0.5, fused });
      for (let i = 0; i < 5; i++) {
        if (i === 3) ref.paramGroups[0]!.lr = 0.25;
        if (i === 4) ref.paramGroups[0]!.momentum = 0;
        ref.zeroGrad();
        v.square().sum().backward();
        ref.step();
      }
      expect(bits(w)).toEqual(bits(v));
    }
  });
  it('guardValue: a value of your own', () => {
    let scale = 2;
    const f = tg.compile((x: tg.Tensor) => {
      tg.guardValue(() => scale, 'scale');
      return x.mul(scale);
    });
    const x = tg.tensor([1, 2]);
    f(x);
    expect(bits(f(x))).toEqual([2, 4]);
    scale = 3;
    expect(bits(f(x))).toEqual([3, 6]);
    expect(f.stats().lastRetrace).toBe('scale changed');
  });
  it('past the cache limit it runs eagerly, and says why', () => {
    const f = tg.compile((x: tg.Tensor) => x.add(1), { cacheLimit: 2, warn: false });
    const bytes = tg.memory().bytes;
    for (const n of [1, 2, 3, 4]) {
      const x = tg.zeros([n]);
      const y = f(x);
      expect(bits(y)).toEqual(new Array(n).fill(1));
      x.dispose();
      y.dispose();
    }
    expect(tg.memory().bytes).toBe(bytes); // once it runs eagerly, its graphs' memory is given back
    expect(f.stats().disabled).toBe('it was traced 2 times, the cache limit (cacheLimit), and a guard failed again: tensor argument 0 has shape [3] now, had [1]');
    expect(f.lastFallback).toBe(f.stats().disabled);
    expect(f.stats().eagerCalls).toBe(2);
    f.reset();
    f(tg.zeros([1]));
    expect([f.stats().disabled, f.stats().traces]).toEqual([undefined, 3]);
  });
});

// ---- fallbacks ----------------------------------------------------------------------------
describe('what cannot be replayed runs eagerly, with the reason', () => {
  const warnings: string[] = [];
  let old: tg.WarningHandler | undefined;
  afterEach(() => {
    if (old) tg.setWarningHandler(old);
    old = undefined;
    warnings.length = 0;
  });
  const capture = () => (old = tg.setWarningHandler((m) => warnings.push(m)));

  it('a value read in the middle (itemSync, dataSync, to another device): eager for good, with one warning', () => {
    capture();
    const f = tg.compile(function branchy(x: tg.Tensor) {
      return x.sum().itemSync() > 0 ? x.mul(2) : x.neg();
    });
    expect(bits(f(tg.tensor([1, 2])))).toEqual([2, 4]);
    expect(bits(f(tg.tensor([-1, -2])))).toEqual([1, 2]);
    expect(f.lastFallback).toBe('it reads tensor values in the middle (dataSync()), so what it computes next may depend on them: read results after the compiled call returns');
    expect([f.stats().traces, f.stats().eagerCalls, f.stats().graphs.length]).toEqual([1, 1, 0]);
    expect(warnings).toEqual([`compile: branchy runs eagerly from now on: ${f.lastFallback}`]);
    const g = tg.compile((x: tg.Tensor) => x.to('cpu').add(tg.tensor(x.dataSync()[0]!)), { warn: false });
    g(tg.tensor([1]));
    expect(g.lastFallback).toMatch(/^it reads tensor values in the middle \(dataSync\(\)\)/);
  });
  it('an async function is an error', () => {
    const f = tg.compile(async (x: tg.Tensor) => x.add(1));
    expect(() => f(tg.tensor([1]))).toThrow(/^compile: the function returned a Promise/);
  });
  it('tensors it makes and keeps: traced again (optimizer state), then eager', () => {
    const kept: tg.Tensor[] = [];
    const f = tg.compile((x: tg.Tensor) => {
      kept.push(tg.keep(x.add(1)));
      return x.mul(2);
    }, { warn: false });
    for (let i = 0; i < 4; i++) f(tg.tensor([1])).dispose();
    expect(f.lastFallback).toBe(
      "it keeps 1 tensor(s) it made alive past its end (float32 [1]) that are neither returned nor a .grad: state made on a first call (an optimizer's buffers; the next call traces again), or tensors kept with keep()",
    );
    expect([f.stats().traces, f.stats().eagerCalls, kept.length]).toEqual([3, 1, 4]);
    for (const t of kept) t.dispose();
  });
  it('a result that requires grad, with no backward inside', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const f = tg.compile((x: tg.Tensor) => x.mul(w).sum(), { warn: false });
    const y = f(tg.tensor([3, 4]));
    y.backward(); // eager: the graph is there
    expect(bits(w.grad!)).toEqual([3, 4]);
    expect(f.lastFallback).toMatch(/^it returns a tensor \(float32 \[\]\) that requires grad, and runs no backward/);
  });
  it('a result that is not tensors', () => {
    const f = tg.compile((x: tg.Tensor) => ({ y: x.add(1), n: 3 }), { warn: false });
    expect(f(tg.tensor([1])).n).toBe(3);
    expect(f.lastFallback).toMatch(/^it returns a number: a replay rebuilds tensors/);
  });
  it("a scheduler's step or a DataLoader's batch inside", () => {
    const w = tg.tensor([1]).requiresGrad_();
    const opt = new optim.SGD([w], { lr: 0.1 });
    const sched = new optim.StepLR(opt, { stepSize: 1, gamma: 0.5 });
    const f = tg.compile(() => {
      opt.zeroGrad();
      w.square().sum().backward();
      opt.step();
      sched.step();
    }, { warn: false });
    f();
    f();
    expect(f.lastFallback).toMatch(/^it steps a learning-rate scheduler/);
    expect(bits(w)).toEqual([Math.fround(Math.fround(0.8) - Math.fround(0.05 * Math.fround(1.6)))]);
    const loader = new tg.data.DataLoader(new tg.data.TensorDataset(tg.arange(8, undefined, 1, { dtype: 'float32' })), { batchSize: 4 });
    const g = tg.compile(() => {
      let s = tg.zeros([]);
      for (const [b] of loader) s = s.add(b!.sum());
      return s;
    }, { warn: false });
    expect(bits(g())).toEqual([28]);
    expect(g.lastFallback).toMatch(/^it takes a batch from a DataLoader/);
  });
  it('a tensor with an autograd history from outside, or given one inside', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const h = w.mul(2);
    const f = tg.compile(() => h.sum().backward(tg.ones([]), { retainGraph: true }), { warn: false });
    f();
    expect(f.lastFallback).toMatch(/^it uses a tensor \(float32 \[2\]\) with an autograd history made outside it/);
    expect(bits(w.grad!)).toEqual([2, 2]);
    const buf = tg.zeros([2]);
    const g = tg.compile(() => buf.add_(w.mul(2)).sum().detach(), { warn: false });
    g();
    expect(g.lastFallback).toBe('it records an in-place op on a tensor from outside it (float32 [2]): its autograd history would outlive the call, and a replay makes none');
    expect(buf.gradFn?.op).toBe('add');
    // under noGrad the same tensor h is only read: that replays
    const k = tg.compile(() => tg.noGrad(() => h.add(1)));
    for (let i = 0; i < 3; i++) expect(bits(k())).toEqual([3, 5]);
    expect(k.stats().replays).toBe(2);
  });
  it('in-place writes that run a kernel on the tensor itself replay (add_, maskedFill_)', () => {
    const buf = tg.zeros([4]);
    const f = tg.compile((x: tg.Tensor) => tg.noGrad(() => buf.add_(x).maskedFill_(x.lt(0), -1).sum()));
    const x = tg.tensor([1, -2, 3, -4]);
    const want: number[][] = [];
    const eager = tg.zeros([4]);
    for (let i = 0; i < 4; i++) {
      tg.noGrad(() => void eager.add_(x).maskedFill_(x.lt(0), -1));
      want.push(bits(eager));
      f(x).dispose();
      expect(bits(buf), `call ${i}`).toEqual(want[i]);
    }
    expect(f.stats().replays).toBeGreaterThan(0);
    expect(buf.version).toBe(eager.version);
  });
  it('a tensor over outside storage that the trace cannot trace back', () => {
    const x = tg.tensor([1, 2]);
    const f = tg.compile(() => new tg.Tensor(x.storage.retain(), x.shape, x.strides, x.offset, x.dtype).add(1), { warn: false });
    expect(bits(f())).toEqual([2, 3]);
    expect(f.lastFallback).toMatch(/^internal: a tensor \(float32 \[2\]\) over storage the trace cannot trace back/);
  });
});

// ---- memory and effects -------------------------------------------------------------------
describe('memory and what a replay leaves', () => {
  it('intermediates share blocks by liveness: a chain of 8 ops over one shape takes 2 blocks', () => {
    // unfused: fused, the chain is one kernel with no intermediates (compile-fusion.test.ts)
    const f = tg.compile((x: tg.Tensor) => x.exp().neg().exp().neg().exp().neg().exp().neg(), { fuse: false });
    const x = tg.rand([1000]);
    const expected = bits(tg.tidy(() => x.exp().neg().exp().neg().exp().neg().exp().neg()));
    for (let i = 0; i < 3; i++) expect(bits(f(x))).toEqual(expected);
    const g = f.stats().graphs[0]!;
    expect([g.kernels, g.plannedBytes, g.peakBytes, g.perCallBytes]).toEqual([8, 8000, 8000, 4000]);
  });
  it('memory stays flat over replays, and reset() gives the planned memory back', () => {
    const data = batches('mlp', 2, 16);
    const t = trainer('mlp', 'adam', 50);
    const step = tg.compile(t.step);
    const loop = (n: number) => {
      for (let i = 0; i < n; i++) step(...data[i % 2]!).dispose();
    };
    loop(3);
    const after3 = tg.memory();
    loop(20);
    expect(tg.memory().tensors).toBe(after3.tensors);
    expect(tg.memory().bytes).toBe(after3.bytes);
    const g = step.stats().graphs[0]!;
    step.reset();
    expect(tg.memory().bytes).toBe(after3.bytes - g.plannedBytes - g.constantBytes);
    t.o.zeroGrad();
    for (const p of t.m.parameters()) p.dispose();
    for (const s of t.o.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
    for (const [x, y] of data) x.dispose(), y.dispose();
  });
  it('old gradients are disposed, versions bumped, results are plain tensors', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const opt = new optim.SGD([w], { lr: 0.1 });
    const f = tg.compile(() => {
      opt.zeroGrad();
      const loss = w.square().sum();
      loss.backward();
      opt.step();
      return { loss, again: [loss], w };
    });
    f();
    f();
    const g = w.grad!;
    const version = w.version;
    const out = f();
    expect(f.stats().replays).toBe(1);
    expect(g.isDisposed).toBe(true);
    expect(w.grad).not.toBe(g);
    expect(w.version).toBe(version + 1);
    expect(out.again[0]).toBe(out.loss);
    expect(out.w).toBe(w);
    expect([out.loss.requiresGrad, out.loss.isLeaf]).toEqual([false, true]);
  });
  it("a kernel that throws in a replay (a target out of range) throws eager's error, changes nothing and keeps nothing", () => {
    const t = trainer('mlp', 'sgd', 10);
    const [[x, y]] = batches('mlp', 1, 4);
    const step = tg.compile(t.step);
    for (let i = 0; i < 3; i++) step(x!, y!).dispose();
    const before = t.m.parameters().map(bits);
    const bad = tg.tensor([1, 2, 10, 3], { dtype: 'int32' });
    let eager: unknown, replayed: unknown;
    try {
      tg.tidy(() => t.step(x!, bad));
    } catch (e) {
      eager = e;
    }
    const memory = tg.memory();
    try {
      step(x!, bad);
    } catch (e) {
      replayed = e;
    }
    expect(step.stats().replays).toBe(2);
    expect(replayed).toBeInstanceOf(tg.IndexError);
    expect((replayed as Error).message).toBe((eager as Error).message);
    expect(t.m.parameters().map(bits)).toEqual(before);
    expect([tg.memory().tensors, tg.memory().bytes]).toEqual([memory.tensors, memory.bytes]);
  });
  it('inside another compiled function it runs inline, in that trace', () => {
    const inner = tg.compile((x: tg.Tensor) => x.exp());
    const outer = tg.compile((x: tg.Tensor) => inner(x).add(1));
    const x = tg.tensor([0, 1]);
    for (let i = 0; i < 3; i++) expect(bits(outer(x))).toEqual(bits(x.exp().add(1)));
    // exp, add (the 1 is a constant), fused into one kernel
    expect([outer.stats().graphs[0]!.fused, inner.stats().calls]).toEqual([['fused(exp,add)'], 0]);
  });
});
