import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn, optim } from '../src/index.js';
import { dispatch, run } from '@tapegrad/tensor';
import { MnistCnn } from './helpers.js';

// compile's fusion pass on the CPU (tensor/src/compile/fuse.ts, backend-cpu/src/fuse.ts): a
// fused group computes each op with its eager scalar function, rounded to float32 as eager's
// stores round, so results are eager's bits; and what must not fuse (an intermediate kept,
// written in place, read twice or through a broadcast view; a write between) does not. The
// expected values are eager runs of the same functions. Run it in poison mode too.

const bits = (t: tg.Tensor) => Array.from(t.dataSync());
const F = nn.functional;

/** Compile f, call it four times on args (tracing, then replaying), expect eager's bits each time; return its stats. */
function sameAsEager(f: (...xs: tg.Tensor[]) => tg.Tensor, args: tg.Tensor[], options: tg.CompileOptions = {}) {
  const expected = bits(tg.tidy(() => f(...args)));
  const c = tg.compile(f, options);
  for (let i = 0; i < 4; i++) {
    const r = c(...args);
    expect(bits(r), `call ${i}`).toEqual(expected);
    r.dispose();
  }
  expect(c.stats().replays).toBe(3);
  return c;
}

describe('fused elementwise chains give eager bits', () => {
  it('a chain over broadcast operands, number operands, where and clamp becomes one kernel with no intermediates', () => {
    tg.manualSeed(1);
    const x = tg.randn([16, 33]), b = tg.randn([33]), s = tg.randn([16, 1]);
    const f = (x: tg.Tensor, b: tg.Tensor, s: tg.Tensor) => {
      const t = x.mul(b).add(s).sub(0.25).div(1.5).exp().neg();
      return t.where(x.gt(0), x.sqrt()).clamp(-3, 2).sigmoid().tanh().maximum(b).square();
    };
    const c = sameAsEager(f, [x, b, s]);
    const g = c.stats().graphs[0]!;
    // gt (a bool result) stays on its own; everything else is one kernel, and only the result is stored
    expect(g.fused).toEqual(['fused(mul,add,sub,div,exp,neg,sqrt,where,clamp,sigmoid,tanh,maximum,square)']);
    expect(g.kernels).toBe(2);
    expect([g.plannedBytes, g.eagerKernels]).toEqual([16 * 33, 14]); // the bool mask
    expect(c.explain()).toContain('1 fused: fused(mul,add,sub');
  });
  it('activations and their backward rules: a step through gelu, leakyRelu, elu, softplus, hardswish and mish', () => {
    tg.manualSeed(2);
    const x = tg.randn([8, 40]);
    const w = tg.randn([40]).requiresGrad_();
    const step = (x: tg.Tensor) => {
      w.grad?.dispose();
      w.grad = null;
      let h = x.mul(w);
      h = F.mish(F.hardswish(F.softplus(F.elu(F.leakyRelu(F.gelu(h), 0.2), 0.7), { beta: 2, threshold: 5 }))).mul(0.5);
      const loss = h.sum();
      loss.backward();
      return loss;
    };
    const expectedLoss = bits(tg.tidy(() => step(x)));
    const expectedGrad = bits(w.grad!);
    const c = tg.compile(step);
    for (let i = 0; i < 4; i++) {
      const loss = c(x);
      expect(bits(loss), `loss ${i}`).toEqual(expectedLoss);
      expect(bits(w.grad!), `grad ${i}`).toEqual(expectedGrad);
      loss.dispose();
    }
    const g = c.stats().graphs.at(-1)!;
    // each activation's input is saved for its backward rule (read twice): the forward chain stays
    // stored but its tail; the backward chain, whose intermediates only the next rule reads, fuses
    expect(g.fused).toEqual(['fused(mish,mul)', 'fused(mul,mishBackward,hardswishBackward,softplusBackward,eluBackward,leakyReluBackward,geluBackward,mul)']);
    expect(g.kernels).toBeLessThan(g.eagerKernels);
  });
  it('a path of ops with SIMD kernels runs them in place over the output: one kernel call, no intermediates', () => {
    tg.manualSeed(4);
    const x = tg.randn([64, 100]), b = tg.randn([100]);
    const g = sameAsEager((x, b) => x.mul(b).add(1).sub(0.25).div(1.5).mul(x).neg().relu(), [x, b]).stats().graphs[0]!;
    expect([g.kernels, g.plannedBytes, g.fused]).toEqual([1, 0, ['fused(mul,add,sub,div,mul,neg,relu)']]);
  });
  it('with fuse: false every kernel stays', () => {
    const x = tg.randn([100]);
    const g = sameAsEager((x) => x.exp().neg().mul(3), [x], { fuse: false }).stats().graphs[0]!;
    expect([g.kernels, g.fused]).toEqual([3, []]);
  });
  it('where the engine forbids generated code (a Content-Security-Policy without unsafe-eval), groups stay unfused', () => {
    const original = globalThis.Function;
    globalThis.Function = function () {
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    try {
      const x = tg.randn([100]);
      // sqrt has no fast loop: the chain would be a generated loop
      const g = sameAsEager((x) => x.exp().sqrt().mul(3), [x]).stats().graphs[0]!;
      expect([g.kernels, g.fused]).toEqual([3, []]);
    } finally {
      globalThis.Function = original;
    }
  });
});

describe('what must not fuse does not', () => {
  const x = tg.tensor([0.5, -1, 2, 3, -0.25, 4]);
  it('an intermediate the function returns (kept) stays stored', () => {
    const f = (x: tg.Tensor) => {
      const a = x.exp();
      return [a, a.neg().mul(2)] as const;
    };
    const expected = tg.tidy(() => f(x).map(bits));
    const c = tg.compile(f);
    for (let i = 0; i < 3; i++) expect(c(x).map(bits)).toEqual(expected);
    expect(c.stats().graphs[0]!.fused).toEqual(['fused(neg,mul)']);
  });
  it('an intermediate read by two kernels stays stored; its readers fuse around it', () => {
    const c = sameAsEager((x) => {
      const a = x.exp();
      return a.sqrt().add(a.mul(2));
    }, [x]);
    expect(c.stats().graphs[0]!.fused).toEqual(['fused(sqrt,mul,add)']);
  });
  it('an intermediate written in place stays stored', () => {
    const c = sameAsEager((x) => {
      const a = x.exp();
      a.mul_(3);
      return a.neg();
    }, [x]);
    expect(c.stats().graphs[0]!.fused).toEqual([]);
  });
  it('a producer whose input is written before its consumer runs does not move past that write', () => {
    const y = tg.tensor([1, 2, 3, 4, 5, 6]);
    const f = (x: tg.Tensor, y: tg.Tensor) => {
      const a = y.mul(2);
      y.add_(1);
      return a.add(x);
    };
    const eagerY = y.clone();
    const expected = bits(tg.tidy(() => f(x, eagerY)));
    const c = tg.compile(f);
    const yc = y.clone();
    expect(bits(c(x, yc))).toEqual(expected);
    expect(c.stats().graphs[0]!.fused).toEqual([]);
  });
  it('an intermediate read through a broadcast view stays stored', () => {
    const b = tg.tensor([1, 2, 3]);
    const c = sameAsEager((x, b) => x.reshape([2, 3]).add(b.exp()).neg(), [x, b]);
    expect(c.stats().graphs[0]!.fused).toEqual(['fused(add,neg)']);
  });
  it('float64 is left alone on the CPU (its kernels compute with other functions than float32 ones)', () => {
    const c = sameAsEager((x) => x.exp().neg(), [x.cast('float64')]);
    expect(c.stats().graphs[0]!.fused).toEqual([]);
  });
});

describe('epilogues and the MNIST steps', () => {
  it('forward under noGrad: a product, a bias and an activation chain after it, in place (SIMD ops) or in a generated loop', () => {
    tg.manualSeed(5);
    const x = tg.randn([3, 16, 24]), w = tg.randn([24, 20]), b = tg.randn([20]), wl = tg.randn([20, 24]);
    const simd = sameAsEager((x, w, b) => tg.noGrad(() => x.matmul(w).add(b).relu().mul(2)), [x, w, b]);
    expect(simd.stats().graphs[0]!.fused).toEqual(['fused(matmul,add,relu,mul)']);
    const generated = sameAsEager((x, w, b) => tg.noGrad(() => F.gelu(F.linear(x, w, b)).mul(b).clamp(-1, 1)), [x, wl, b]);
    expect(generated.stats().graphs[0]!.fused).toEqual(['fused(linear,gelu,mul,clamp)']);
    const conv = sameAsEager((x, w) => tg.noGrad(() => F.leakyRelu(F.conv2d(x, w, null, { padding: 1 }), 0.3).sqrt()), [tg.randn([2, 3, 8, 8]), tg.randn([4, 3, 3, 3])]);
    expect(conv.stats().graphs[0]!.fused).toEqual(['fused(conv2d,leakyRelu,sqrt)']);
  });
  function train(model: 'mlp' | 'cnn', fused: boolean | 'eager', steps: number) {
    tg.manualSeed(11);
    const m = model === 'mlp' ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 32), new nn.ReLU(), new nn.Linear(32, 10)) : new MnistCnn();
    const o = new optim.Adam(m.parameters(), { lr: 0.003 });
    const f = (x: tg.Tensor, y: tg.Tensor) => {
      const loss = F.crossEntropy(m.forward(x), y);
      o.zeroGrad();
      loss.backward();
      o.step();
      return loss;
    };
    const step = fused === 'eager' ? undefined : tg.compile(f, { fuse: fused });
    tg.manualSeed(12);
    const losses: number[][] = [];
    for (let i = 0; i < steps; i++) {
      const x = tg.randn(model === 'mlp' ? [16, 784] : [4, 1, 28, 28]), y = tg.randint(0, 10, [model === 'mlp' ? 16 : 4]);
      const loss = step ? step(x, y) : tg.tidy(() => f(x, y));
      losses.push(bits(loss));
      loss.dispose(), x.dispose(), y.dispose();
    }
    return { losses, params: m.parameters().map(bits), grads: m.parameters().map((p) => bits(p.grad!)), stats: step?.stats() };
  }
  // kernels per step: the groups' kernels, and the optimizer's (Adam's multi-tensor step)
  for (const [model, groups, kernels] of [
    // the second layer's backward (dH with relu's backward as its epilogue, dW2, db2) is one
    // kernel; the first layer's gradients and the optimizer's step another
    ['mlp', ['fused(linear,relu)', 'fused(linear,crossEntropy,crossEntropyBackward)', 'fused(matmul,sum,matmul,reluBackward)', 'fused(matmul,sum,adamStepForeach)'], 4],
    [
      'cnn',
      [
        'fused(maxPool2dBackward,reluBackward)', 'fused(conv2d,relu,maxPool2d)', 'fused(conv2d,relu,maxPool2d)',
        'fused(linear,crossEntropy,crossEntropyBackward)', 'fused(matmul,matmul,sum)',
        'fused(conv2dInputGrad,conv2dWeightGrad,sum,maxPool2dBackward,reluBackward)', 'fused(conv2dWeightGrad,sum,adamStepForeach)',
      ],
      7,
    ],
  ] as const) {
    it(`${model}: the compiled step with epilogues gives eager's losses, parameters and gradients over 6 steps`, () => {
      const eager = train(model, 'eager', 6), fused = train(model, true, 6), unfused = train(model, false, 6);
      expect(fused.losses).toEqual(eager.losses);
      expect(fused.params).toEqual(eager.params);
      expect(fused.grads).toEqual(eager.grads);
      expect(unfused.params).toEqual(eager.params);
      const g = fused.stats!.graphs[0]!, u = unfused.stats!.graphs[0]!;
      expect(g.fused).toEqual(groups);
      expect([u.kernels, g.kernels]).toEqual([model === 'mlp' ? 12 : 22, kernels]);
      expect(g.plannedBytes).toBeLessThan(u.plannedBytes);
    });
  }
});

// compile/combine.ts: steps sharing buffers as one kernel with several outputs. On the CPU the
// kernel runs the members' eager kernels in turn, so every output is eager's bits.
describe('combined groups: a loss with its backward, a weight gradient with its bias gradient', () => {
  /** One step of f (forward, backward) traced and replayed: the loss and every leaf's gradient equal eager's bits; returns the graph's stats. */
  function step(f: () => tg.Tensor, leaves: tg.Tensor[]) {
    const run = () => {
      for (const p of leaves) p.grad?.dispose(), (p.grad = null);
      const loss = f();
      loss.backward();
      return loss;
    };
    const expected = bits(tg.tidy(run));
    const grads = leaves.map((p) => bits(p.grad!));
    const c = tg.compile(run);
    for (let i = 0; i < 4; i++) {
      const loss = c();
      expect(bits(loss), `loss ${i}`).toEqual(expected);
      leaves.forEach((p, k) => expect(bits(p.grad!), `grad ${k}, call ${i}`).toEqual(grads[k]));
      loss.dispose();
    }
    expect(c.stats().replays).toBe(3);
    return c.stats().graphs[0]!;
  }
  it("crossEntropy and its backward: one kernel, with class weights, label smoothing, an ignored target, 'mean' and 'sum'", () => {
    tg.manualSeed(31);
    const w = tg.randn([6, 5]).requiresGrad_();
    const x = tg.randn([7, 6]), y = tg.tensor([0, 4, -100, 2, 1, 3, 4], { dtype: 'int32' }), cw = tg.rand([5]).add(0.5);
    for (const [k, options] of [{}, { weight: cw, labelSmoothing: 0.1 }, { reduction: 'sum' as const }].entries()) {
      const g = step(() => F.crossEntropy(x.matmul(w), y, options), [w]);
      // matmul, crossEntropy, crossEntropyBackward, matmul (dW)
      expect([g.fused, g.kernels, g.eagerKernels], `options ${k}`).toEqual([['fused(crossEntropy,crossEntropyBackward)'], 3, 4]);
    }
  });
  it('a linear layer, crossEntropy and its backward: one kernel; its weight gradient and its bias sum: another, over leading dims too', () => {
    tg.manualSeed(32);
    const lin = new nn.Linear(12, 5);
    const x = tg.randn([2, 3, 12]), y = tg.randint(0, 5, [6]);
    const g = step(() => F.crossEntropy(lin.forward(x).reshape([6, 5]), y), lin.parameters());
    expect(g.fused).toEqual(['fused(linear,crossEntropy,crossEntropyBackward)', 'fused(matmul,sum)']);
    expect([g.kernels, g.eagerKernels]).toEqual([2, 5]);
  });
  it('in poison mode too', () => {
    const old = tg.setPoisonMode(true);
    try {
      tg.manualSeed(33);
      const lin = new nn.Linear(9, 4);
      const x = tg.randn([5, 9]), y = tg.tensor([0, 1, 2, 3, 0], { dtype: 'int32' });
      const g = step(() => F.crossEntropy(lin.forward(x), y), lin.parameters());
      expect(g.kernels).toBe(2);
    } finally {
      tg.setPoisonMode(old);
    }
  });
  it("not where a step between reads what a member wrote: the loss read before the backward runs ('none' and its sum, a scaled loss)", () => {
    tg.manualSeed(34);
    const w = tg.randn([6, 5]).requiresGrad_();
    const x = tg.randn([7, 6]), y = tg.randint(0, 5, [7]);
    for (const f of [() => F.crossEntropy(x.matmul(w), y).mul(3), () => F.crossEntropy(x.matmul(w), y, { reduction: 'none' }).sum()]) {
      const g = step(f, [w]);
      expect(g.fused.filter((f) => f.includes('crossEntropy'))).toEqual([]);
    }
  });
  it('not where a step between writes what a member reads: the logits written in place between the forward and the backward', () => {
    tg.manualSeed(36);
    const x = tg.randn([5, 4]), y = tg.randint(0, 4, [5]);
    const attrs = { reduction: 'mean', ignoreIndex: -100, labelSmoothing: 0 };
    // the kernels by name (autograd would refuse the in-place write on a saved tensor)
    const f = (x: tg.Tensor, y: tg.Tensor) => {
      const logits = x.mul(2);
      const [loss, stats, total] = dispatch('crossEntropy', [logits, y], attrs);
      logits.add_(1); // the backward reads the new logits; run with the backward, the forward would too
      const gx = run('crossEntropyBackward', [logits, y, stats!, total!, tg.tensor(1)], attrs);
      return [loss!, gx] as const;
    };
    const expected = tg.tidy(() => f(x, y).map(bits));
    const c = tg.compile(f);
    for (let i = 0; i < 3; i++) expect(c(x, y).map(bits), `call ${i}`).toEqual(expected);
    expect(c.stats().graphs[0]!.fused.filter((g) => g.includes('crossEntropy'))).toEqual([]);
  });
  it("a linear layer's whole backward, dX = G·W (with relu's backward as its epilogue, or plain) and dW = Gᵀ·X with db: one kernel, in either trace order", () => {
    for (const [N, D, C, relu] of [[5, 3, 2, true], [37, 29, 11, false], [64, 130, 10, true]] as const) {
      tg.manualSeed(N);
      const lin = new nn.Linear(D, C);
      const x = tg.randn([N, D]).requiresGrad_(), t = tg.randn([N, C]);
      // relu before the layer: its backward is dX's epilogue
      const g = step(() => lin.forward(relu ? x.relu() : x).mul(t).sum(), [x, ...lin.parameters()]);
      expect(g.fused, `${N}x${D}x${C}`).toContain(relu ? 'fused(matmul,sum,matmul,reluBackward)' : 'fused(matmul,matmul,sum)');
    }
  });
  it('not where a step between reads what a member wrote, or writes what a member read', () => {
    tg.manualSeed(37);
    const w = tg.randn([4, 6]), x0 = tg.randn([5, 6]), g = tg.randn([5, 4]);
    // a linear backward by its kernels: dW = Gᵀ·X, db = ΣG, dX = G·W, with a step between
    const between = [
      (dw: tg.Tensor) => dw.mul(2), // reads dW before dX (where the combined kernel would run)
      (_dw: tg.Tensor, x: tg.Tensor) => x.mul_(3), // writes X, which dW read
    ];
    const f = (mid?: (dw: tg.Tensor, x: tg.Tensor) => tg.Tensor) => (x0: tg.Tensor, g: tg.Tensor, w: tg.Tensor) => {
      const x = x0.mul(1);
      const dw = run('matmul', [g.transpose(0, 1), x]);
      const db = g.sum(0);
      const m = mid?.(dw, x);
      const dx = run('matmul', [g, w]);
      return m ? [dw, db, dx, m] : [dw, db, dx];
    };
    // without a step between, the three are one kernel
    for (const [k, mid] of [undefined, ...between].entries()) {
      const expected = tg.tidy(() => f(mid)(x0, g, w).map(bits));
      const c = tg.compile(f(mid));
      for (let i = 0; i < 3; i++) expect(c(x0, g, w).map(bits), `case ${k}, call ${i}`).toEqual(expected);
      expect(c.stats().graphs[0]!.fused.includes('fused(matmul,sum,matmul)'), `case ${k}`).toBe(!mid);
    }
  });
  it("the optimizer's step stays apart where a step between reads the gradients (clipGradNorm's norms, then its in-place scaling)", () => {
    for (const clip of [false, true]) {
      const make = () => {
        tg.manualSeed(38);
        const lin = new nn.Linear(9, 4);
        const o = new optim.SGD(lin.parameters(), { lr: 0.1, momentum: 0.9 });
        const x = tg.randn([6, 9]), y = tg.randint(0, 4, [6]);
        const f = () => {
          const loss = F.crossEntropy(lin.forward(x), y);
          o.zeroGrad();
          loss.backward();
          if (clip) optim.clipGradNorm(lin.parameters(), 0.05).dispose();
          o.step();
          return loss;
        };
        return { lin, f };
      };
      const e = make(), c = make();
      const step = tg.compile(c.f);
      for (let i = 0; i < 4; i++) {
        expect(bits(step()), `clip ${clip}, step ${i}: loss`).toEqual(bits(tg.tidy(e.f)));
        expect(c.lin.parameters().map(bits), `clip ${clip}, step ${i}`).toEqual(e.lin.parameters().map(bits));
      }
      const fused = step.stats().graphs.at(-1)!.fused;
      expect(fused.some((g) => g.endsWith('StepForeach)')), `clip ${clip}: ${fused}`).toBe(!clip);
    }
  });
  it('a bias gradient over channels: conv2dWeightGrad and the sum of its gradient', () => {
    tg.manualSeed(35);
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1 });
    const x = tg.randn([2, 2, 6, 6]);
    const g = step(() => conv.forward(x).square().mean(), conv.parameters());
    expect(g.fused).toContain('fused(conv2dWeightGrad,sum)');
  });
});

// the convolution groups (combine.ts 'convPool', 'convBackward'): on the CPU their members' eager
// kernels in one call, so eager's bits; what the pass recognizes is the same on WebGPU
// (backend-webgpu/test/compile-conv.test.ts checks its kernels).
describe('combined groups: a convolution with its pool, and its gradients with the pool backward', () => {
  /** conv1 (+ act) and a pool, conv2, backward: the loss and the four parameters' gradients. */
  const twoConvs = (act: ((x: tg.Tensor) => tg.Tensor) | undefined, pool: ((x: tg.Tensor) => tg.Tensor) | undefined) => {
    const c1 = new nn.Conv2d(3, 5, 3, { padding: 1 }), c2 = new nn.Conv2d(5, 6, 3, { padding: 1 });
    return (x: tg.Tensor) => {
      const params = [...c1.parameters(), ...c2.parameters()];
      for (const p of params) p.grad?.dispose(), (p.grad = null);
      const h = c1.forward(x);
      const loss = c2.forward((pool ?? ((t) => t))(act ? act(h) : h)).square().mean();
      loss.backward();
      return [loss, ...params.map((p) => p.grad!.clone())];
    };
  };
  function same(f: (x: tg.Tensor) => tg.Tensor[], x: tg.Tensor) {
    const expected = tg.tidy(() => f(x).map(bits));
    const c = tg.compile(f);
    for (let i = 0; i < 4; i++) {
      const r = c(x);
      expect(r.map(bits), `call ${i}`).toEqual(expected);
      r.forEach((t) => t.dispose());
    }
    return c.stats().graphs.at(-1)!;
  }
  it('conv2d + relu + a tiling pool, and conv2\'s three gradients with the pool\'s backward: one call each, odd sizes', () => {
    tg.manualSeed(37);
    for (const [act, name] of [[F.relu, 'relu,'], [undefined, '']] as const) {
      const g = same(twoConvs(act, (t) => F.maxPool2d(t, 2)), tg.randn([2, 3, 9, 7]));
      expect(g.fused, name).toContain(`fused(conv2d,${name}maxPool2d)`);
      expect(g.fused, name).toContain(`fused(conv2dInputGrad,conv2dWeightGrad,sum,maxPool2dBackward${name ? ',reluBackward' : ''})`);
    }
  });
  it('a pool that does not tile, or a reader between the conv and the pool, keeps them apart', () => {
    tg.manualSeed(38);
    const x = tg.randn([2, 3, 8, 8]);
    for (const [what, pool] of [['overlapping', (t: tg.Tensor) => F.maxPool2d(t, 3, { stride: 2 })], ['padded', (t: tg.Tensor) => F.maxPool2d(t, 2, { padding: 1 })]] as const) {
      const g = same(twoConvs(F.relu, pool), x);
      expect(g.fused.filter((f) => f.includes('maxPool2d,') || f.endsWith('maxPool2d)')), what).toEqual([]);
      // the gradients still combine, without the pool's backward
      expect(g.fused, what).toContain('fused(conv2dInputGrad,conv2dWeightGrad,sum)');
    }
    // the sum reads the activation between the conv (where it is written) and the pool (where a combined kernel would run)
    const conv = new nn.Conv2d(3, 4, 3, { padding: 1 });
    const between = (x: tg.Tensor) =>
      tg.noGrad(() => {
        const y = F.relu(conv.forward(x));
        const s = y.sum();
        return [s, F.maxPool2d(y, 2)];
      });
    expect(same(between, x).fused).toEqual(['fused(conv2d,relu)']);
  });
});
