// compile's fusion on WebGPU (src/fuse.ts): a fused group is one shader whose ops are their
// MAP_OPS expressions, the eager kernels' own, in f32 as eager computes a float32 output; an
// epilogue runs in the store of a matmul, conv2d or maxPool2dBackward. On this adapter the
// results are eager WebGPU's bits (the same f32 operations in the same order: no contraction
// into fused multiply-adds was seen), and within float tolerance of the CPU's; both are tested.
import { expect, it } from 'vitest';
import { noGrad } from '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { expectClose, MnistCnn, openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();
const F = nn.functional;


async function train(model: 'mlp' | 'cnn', mode: 'eager' | 'fused' | 'unfused', steps: number, batch = model === 'mlp' ? 16 : 4) {
  tg.manualSeed(21);
  const m = (model === 'mlp' ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 32), new nn.ReLU(), new nn.Linear(32, 10)) : new MnistCnn()).to('webgpu');
  const o = new nn.optim.SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
  const f = (x: tg.Tensor, y: tg.Tensor) => {
    const loss = F.crossEntropy(m.forward(x), y);
    o.zeroGrad();
    loss.backward();
    o.step();
    return loss;
  };
  const step = mode === 'eager' ? undefined : tg.compile(f, { fuse: mode === 'fused' });
  tg.manualSeed(22);
  const losses: number[][] = [];
  let dispatches = 0;
  for (let i = 0; i < steps; i++) {
    const x = tg.randn(model === 'mlp' ? [batch, 784] : [batch, 1, 28, 28]).to('webgpu'), y = tg.randint(0, 10, [batch]).to('webgpu');
    const before = backend!.counters.dispatches;
    const loss = step ? step(x, y) : tg.tidy(() => f(x, y));
    dispatches = backend!.counters.dispatches - before; // the last step's: a replay
    losses.push(Array.from(await loss.data()));
    loss.dispose(), x.dispose(), y.dispose();
  }
  const params = await Promise.all(m.parameters().map(async (p) => Array.from(await p.data())));
  const grads = await Promise.all(m.parameters().map(async (p) => Array.from(await p.grad!.data())));
  o.zeroGrad();
  for (const p of m.parameters()) p.dispose();
  return { losses, params, grads, stats: step?.stats(), dispatches };
}

gpuDescribe('fusion on WebGPU', () => {
  for (const [model, groups, dispatches] of [
    // linear is one kernel on WebGPU (its bias added before the store), which relu joins;
    // the last linear, crossEntropy (two dispatches eager) and its backward are one; each weight
    // gradient and its bias's sum another (a linear's sum is eager's bits here: eager sums a
    // batch under 32 serially; a convolution's sums as eager's at any size); a linear layer's
    // input gradient (relu's backward its epilogue) and its weight gradient, side by side in one;
    // the first layer's weight gradient with the optimizer's step (SGD's momentum) in one; each
    // conv2d with its relu and pool, and conv2's three gradients with pool1's backward in their
    // store, one each; conv1's weight and bias gradients with the optimizer's step in one (eager's
    // foreach step is two dispatches here: six parameters' 18 tensors exceed one's 16 bindings)
    ['mlp', ['fused(linear,relu)', 'fused(linear,crossEntropy,crossEntropyBackward)', 'fused(matmul,sum,matmul,reluBackward)', 'fused(matmul,sum,sgdStepForeach)'], [13, 4]],
    [
      'cnn',
      [
        'fused(maxPool2dBackward,reluBackward)', 'fused(conv2d,relu,maxPool2d)', 'fused(conv2d,relu,maxPool2d)',
        'fused(linear,crossEntropy,crossEntropyBackward)', 'fused(matmul,matmul,sum)',
        'fused(conv2dInputGrad,conv2dWeightGrad,sum,maxPool2dBackward,reluBackward)', 'fused(conv2dWeightGrad,sum,sgdStepForeach)',
      ],
      [24, 8],
    ],
  ] as const) {
    it(`${model}: the compiled step with epilogues gives eager WebGPU's losses, parameters and gradients over 5 steps`, async () => {
      const eager = await train(model, 'eager', 5), fused = await train(model, 'fused', 5), unfused = await train(model, 'unfused', 5);
      expect(fused.losses).toEqual(eager.losses);
      expect(fused.params).toEqual(eager.params);
      expect(fused.grads).toEqual(eager.grads);
      expect(unfused.params).toEqual(eager.params);
      const g = fused.stats!.graphs[0]!, u = unfused.stats!.graphs[0]!;
      expect(g.fused).toEqual(groups);
      expect(g.kernels).toBeLessThan(u.kernels);
      // dispatches per step, eager and replayed
      expect([eager.dispatches, fused.dispatches]).toEqual(dispatches);
    });
  }

  it("the MLP step at batch 64: the bias gradients' serial sums keep losses and parameters within float rounding of eager's over 5 steps", async () => {
    const eager = await train('mlp', 'eager', 5, 64), fused = await train('mlp', 'fused', 5, 64);
    fused.losses.forEach((l, i) => expectClose(l, eager.losses[i]!, { atol: 1e-6, rtol: 1e-5 }, `loss ${i}`));
    fused.params.forEach((p, k) => expectClose(p, eager.params[k]!, { atol: 1e-6, rtol: 1e-4 }, `parameter ${k}`));
    expect(fused.dispatches).toBe(4);
  });

  it('a weight gradient Gᵀ·X and its bias gradient in one dispatch: the product is eager\'s bits, the bias the serial float32 sum of G\'s columns', async () => {
    for (const [N, D, C] of [[64, 40, 10], [300, 784, 128], [5, 3, 2]] as const) {
      tg.manualSeed(N);
      const x = tg.randn([N, D]), g = tg.randn([N, C]);
      const w = tg.randn([C, D]).to('webgpu'), b = tg.randn([C]).to('webgpu');
      const [xg, gg] = [x, g].map((t) => t.to('webgpu'));
      const f = (x: tg.Tensor, g: tg.Tensor) => {
        const wl = w.detach().requiresGrad_(), bl = b.detach().requiresGrad_();
        F.linear(x, wl, bl).backward(g);
        const grads = [wl.grad!, bl.grad!];
        wl.grad = bl.grad = null;
        return grads;
      };
      const [dw, db] = await Promise.all(tg.tidy(() => f(xg!, gg!)).map(async (t) => Array.from(await t.data())));
      // the extra column of ones accumulates G's rows in order, one float32 add each
      const G = g.dataSync();
      const serial = Array.from({ length: C }, (_, c) => {
        let s = 0;
        for (let n = 0; n < N; n++) s = Math.fround(s + G[n * C + c]!);
        return s;
      });
      const exact = Array.from({ length: C }, (_, c) => Array.from({ length: N }, (_, n) => G[n * C + c]!).reduce((s, v) => s + v, 0));
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const [cw, cb] = await Promise.all(c(xg!, gg!).map(async (t) => Array.from(await t.data())));
        expect(cw, `${N}x${D}x${C} call ${i}: dW`).toEqual(dw);
        // the first call traces: it is an eager call
        expect(cb, `${N}x${D}x${C} call ${i}: db`).toEqual(i === 0 ? db : serial);
        expectClose(cb, db, { atol: 1e-5, rtol: 1e-5 }, `${N}x${D}x${C}: db against eager's`);
        expectClose(cb, exact, { atol: 1e-5, rtol: 1e-5 }, `${N}x${D}x${C}: db against the float64 sum`);
        if (N < 32) expect(cb, 'a short batch: eager sums it serially too').toEqual(db);
      }
      const st = c.stats().graphs[0]!;
      expect([st.fused, st.kernels], `${N}x${D}x${C}`).toEqual([['fused(matmul,sum)'], 2]);
    }
  });

  it("a linear layer's backward in one dispatch: dX = G·W (relu's backward its epilogue, or none) beside dW = Gᵀ·X and db, each product eager's bits", async () => {
    for (const [N, D, C, relu] of [[5, 3, 2, true], [37, 29, 11, false], [9, 70, 67, true]] as const) {
      tg.manualSeed(N);
      const x = tg.randn([N, D]).to('webgpu'), t = tg.randn([N, C]).to('webgpu');
      const w = tg.randn([C, D]).to('webgpu'), b = tg.randn([C]).to('webgpu');
      const f = (x: tg.Tensor, t: tg.Tensor) => {
        const xl = x.detach().requiresGrad_(), wl = w.detach().requiresGrad_(), bl = b.detach().requiresGrad_();
        F.linear(relu ? xl.relu() : xl, wl, bl).mul(t).sum().backward();
        const grads = [xl.grad!, wl.grad!, bl.grad!];
        xl.grad = wl.grad = bl.grad = null;
        return grads;
      };
      const what = `${N}x${D}x${C}`;
      const eager = await Promise.all(tg.tidy(() => f(x, t)).map(async (v) => Array.from(await v.data())));
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = await Promise.all(c(x, t).map(async (v) => Array.from(await v.data())));
        expect(got.slice(0, 2), `${what} call ${i}: dX and dW`).toEqual(eager.slice(0, 2));
        // db: the serial sum of the row-sums column (eager's bits below 33 rows)
        if (N < 33) expect(got[2], `${what} call ${i}: db`).toEqual(eager[2]);
        else expectClose(got[2]!, eager[2]!, { atol: 1e-5, rtol: 1e-5 }, `${what}: db`);
      }
      const st = c.stats().graphs[0]!;
      expect(st.fused, what).toContain(relu ? 'fused(matmul,sum,matmul,reluBackward)' : 'fused(matmul,matmul,sum)');
    }
    // new shaders: on llvmpipe with a cold shader cache each takes seconds to compile
  }, 300_000);

  it("the optimizer's step in the dispatch of the weight gradient it waits for (a linear or a convolution): parameters, gradients and state eager's bits (SGD, Adam, poison mode); the others past the bindings in the foreach kernel's dispatches after", async () => {
    for (const [layers, N, D, C, opt, dispatches, limit] of [
      // dispatches: linear with crossEntropy and its backward, then the weight gradient and the step
      [1, 7, 13, 5, 'sgd', 2],
      [1, 20, 65, 130, 'nesterov', 2],
      [1, 32, 9, 3, 'adam', 2],
      // linear with relu, the last linear with the loss, its backward, the first's weight gradient and the step
      [2, 11, 30, 6, 'sgd', 4],
      // Adam's four tensors a parameter for two layers: more storage bindings than llvmpipe's 16,
      // the last layer's bias in a foreach dispatch after; with amsgrad's fifth, both its tensors
      [2, 11, 30, 6, 'adam', 5],
      [2, 11, 30, 6, 'amsgrad', 5],
      // a convolution (2 channels in, 3 out, 5x5) with relu, flatten and a linear layer: conv2d
      // with relu, the linear with the loss, its backward, relu's backward (after flatten's
      // reshape: no epilogue), the convolution's weight gradient and the step; Adam as above
      ['conv', 3, 5, 4, 'sgd', 5],
      ['conv', 2, 5, 7, 'nesterov', 5],
      ['conv', 3, 5, 4, 'adam', 6],
      // 8 storage bindings: conv1's weight gradient's 4, the metadata and its two parameters' 2·2
      // do not fit, so the step stays apart: the 5 kernels above, its 4 parameters as 2 foreach dispatches
      ['conv', 3, 5, 4, 'sgd', 7, 8],
    ] as ([number | 'conv', number, number, number, string, number] | [number | 'conv', number, number, number, string, number, number])[]) {
      const what = `${layers} layer(s) ${N}x${D}x${C} ${opt}${limit === undefined ? '' : ` ${limit} bindings`}`;
      const make = () => {
        tg.manualSeed(D);
        const m = (
          layers === 'conv'
            ? new nn.Sequential(new nn.Conv2d(2, 3, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(3 * D * D, C))
            : layers === 1
              ? new nn.Linear(D, C)
              : new nn.Sequential(new nn.Linear(D, 17), new nn.ReLU(), new nn.Linear(17, C))
        ).to('webgpu');
        const o =
          opt === 'adam' || opt === 'amsgrad'
            ? new nn.optim.Adam(m.parameters(), { lr: 0.01, weightDecay: 0.1, amsgrad: opt === 'amsgrad' })
            : new nn.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9, nesterov: opt === 'nesterov', weightDecay: opt === 'nesterov' ? 0.01 : 0 });
        const step = (x: tg.Tensor, y: tg.Tensor) => {
          const loss = F.crossEntropy(m.forward(x), y);
          o.zeroGrad();
          loss.backward();
          o.step();
          return loss;
        };
        return { m, o, step };
      };
      const old = tg.setPoisonMode(opt === 'nesterov');
      const limits = backend!.limits as { maxStorageBuffersPerShaderStage: number };
      const was = limits.maxStorageBuffersPerShaderStage;
      if (limit !== undefined) limits.maxStorageBuffersPerShaderStage = limit;
      try {
        const e = make(), c = make();
        const compiled = tg.compile(c.step);
        tg.manualSeed(N);
        let count = 0;
        for (let i = 0; i < 4; i++) {
          const x = tg.randn(layers === 'conv' ? [N, 2, D, D] : [N, D]).to('webgpu'), y = tg.randint(0, C, [N]).to('webgpu');
          const le = tg.tidy(() => e.step(x, y));
          const before = backend!.counters.dispatches;
          const lc = compiled(x, y);
          count = backend!.counters.dispatches - before; // the last step's: a replay
          expect(Array.from(await lc.data()), `${what} step ${i}: loss`).toEqual(Array.from(await le.data()));
          const state = (t: typeof e) => [...t.o.state.values()].flatMap((s) => Object.values(s).filter((v): v is tg.Tensor => typeof v !== 'number'));
          for (const [k, [pe, pc]] of e.m.parameters().map((p, k) => [p, c.m.parameters()[k]!] as const).entries()) {
            expect(Array.from(await pc.data()), `${what} step ${i}: parameter ${k}`).toEqual(Array.from(await pe.data()));
            expect(Array.from(await pc.grad!.data()), `${what} step ${i}: grad ${k}`).toEqual(Array.from(await pe.grad!.data()));
          }
          const [se, sc] = [state(e), state(c)];
          expect(sc.length).toBe(se.length);
          for (let k = 0; k < se.length; k++) expect(Array.from(await sc[k]!.data()), `${what} step ${i}: state ${k}`).toEqual(Array.from(await se[k]!.data()));
          le.dispose(), lc.dispose(), x.dispose(), y.dispose();
        }
        const fused = compiled.stats().graphs.at(-1)!.fused;
        expect(fused.some((f) => /StepForeach\)$/.test(f)), `${what}: ${fused}`).toBe(limit === undefined);
        expect(count, `${what}: dispatches`).toBe(dispatches);
        for (const t of [e, c]) t.o.zeroGrad(), t.o.dispose();
      } finally {
        tg.setPoisonMode(old);
        limits.maxStorageBuffersPerShaderStage = was;
      }
    }
    // new shaders: on llvmpipe with a cold shader cache each takes seconds to compile
  }, 300_000);

  it("conv2dWeightGrad and its bias's sum in one dispatch: eager WebGPU's bits for short lines (summed serially) and long ones", async () => {
    for (const [shape, groups] of [[[2, 2, 3, 3], 1], [[3, 4, 10, 10], 2]] as const) {
      tg.manualSeed(shape[0]);
      const conv = new nn.Conv2d(shape[1], 6, 3, { padding: 1, groups }).to('webgpu');
      const x = tg.randn([...shape]).to('webgpu'), g = tg.randn([shape[0], 6, shape[2], shape[3]]).to('webgpu');
      const f = (x: tg.Tensor, g: tg.Tensor) => {
        for (const p of conv.parameters()) p.grad?.dispose(), (p.grad = null);
        conv.forward(x).backward(g);
        return conv.parameters().map((p) => p.grad!.clone());
      };
      const eager = await Promise.all(tg.tidy(() => f(x, g)).map(async (t) => Array.from(await t.data())));
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = await Promise.all(c(x, g).map(async (t) => Array.from(await t.data())));
        expect(got, `${shape} call ${i}`).toEqual(eager);
      }
      expect(c.stats().graphs.at(-1)!.fused, `${shape}`).toContain('fused(conv2dWeightGrad,sum)');
    }
  });

  it("crossEntropy and its backward as one dispatch: class weights, label smoothing, an ignored target, 'mean' and 'sum'; eager WebGPU bits, the CPU within tolerance", async () => {
    tg.manualSeed(41);
    const w = tg.randn([6, 5]), x = tg.randn([7, 6]), y = tg.tensor([0, 4, -100, 2, 1, 3, 4], { dtype: 'int32' }), cw = tg.rand([5]).add(0.5);
    const [wg, xg, yg, cwg] = [w, x, y, cw].map((t) => t.to('webgpu'));
    for (const [k, options] of [{}, { weight: cw, labelSmoothing: 0.1 }, { reduction: 'sum' as const }, { weight: cw }].entries()) {
      /** The loss and the gradient of w, on `dev`'s tensors. */
      const f = (w: tg.Tensor, x: tg.Tensor, y: tg.Tensor, cw: tg.Tensor) => {
        const wl = w.detach().requiresGrad_();
        const loss = F.crossEntropy(x.matmul(wl), y, { ...options, weight: options.weight && cw });
        loss.backward();
        const g = wl.grad!;
        wl.grad = null;
        return [loss, g];
      };
      const cpu = await Promise.all(tg.tidy(() => f(w, x, y, cw)).map(async (t) => Array.from(await t.data())));
      const eager = await Promise.all(tg.tidy(() => f(wg!, xg!, yg!, cwg!)).map(async (t) => Array.from(await t.data())));
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = await Promise.all(c(wg!, xg!, yg!, cwg!).map(async (t) => Array.from(await t.data())));
        expect(got, `options ${k}, call ${i}`).toEqual(eager);
        got.forEach((v, j) => expectClose(v, cpu[j]!, { atol: 1e-6, rtol: 1e-5 }, `options ${k}, output ${j} against the CPU`));
      }
      const g = c.stats().graphs[0]!;
      expect([g.fused, g.kernels, g.eagerKernels], `options ${k}`).toEqual([['fused(crossEntropy,crossEntropyBackward)'], 3, 4]);
    }
  });

  it('the last linear layer, crossEntropy and its backward as one dispatch: eager WebGPU bits, the CPU within tolerance; past the bounds (classes, hidden size) the old groups', async () => {
    tg.manualSeed(43);
    for (const [N, K, C, bias, combined] of [
      [7, 13, 5, true, true],
      [33, 129, 10, false, true],
      [70, 3, 256, true, true],
      [5, 9, 257, true, false],
      [3, 1025, 4, true, false],
    ] as const) {
      const x = tg.randn([N, K]), w = tg.randn([C, K]).mul(0.3), b = tg.randn([C]), y = tg.randint(0, C, [N]), cw = tg.rand([C]).add(0.5);
      const options = N === 33 ? { labelSmoothing: 0.1 } : {};
      /** The loss, the logits' gradient (through x: a matmul, eager's bits) and w's (a matmul); the bias is a parameter whose sum stays apart. */
      const f = (x: tg.Tensor, w: tg.Tensor, b: tg.Tensor, y: tg.Tensor, cw: tg.Tensor) => {
        const xl = x.detach().requiresGrad_(), wl = w.detach().requiresGrad_();
        const loss = F.crossEntropy(F.linear(xl, wl, bias ? b : undefined), y, { ...options, weight: N === 7 ? cw : undefined });
        loss.backward();
        const out = [loss, xl.grad!, wl.grad!];
        xl.grad = wl.grad = null;
        return out;
      };
      const what = `${N}x${K}x${C}`;
      const gpu = [x, w, b, y, cw].map((t) => t.to('webgpu')) as [tg.Tensor, tg.Tensor, tg.Tensor, tg.Tensor, tg.Tensor];
      const cpu = await Promise.all(tg.tidy(() => f(x, w, b, y, cw)).map(async (t) => Array.from(await t.data())));
      const eager = await Promise.all(tg.tidy(() => f(...gpu)).map(async (t) => Array.from(await t.data())));
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = await Promise.all(c(...gpu).map(async (t) => Array.from(await t.data())));
        expect(got, `${what} call ${i}`).toEqual(eager);
        got.forEach((v, j) => expectClose(v, cpu[j]!, { atol: 1e-5, rtol: 1e-4 }, `${what}, output ${j} against the CPU`));
      }
      const fused = c.stats().graphs[0]!.fused;
      expect(fused.includes('fused(linear,crossEntropy,crossEntropyBackward)'), what).toBe(combined);
      if (!combined) expect(fused, what).toContain('fused(crossEntropy,crossEntropyBackward)');
    }
    // new shaders: on llvmpipe with a cold shader cache each takes seconds to compile
  }, 300_000);

  it('crossEntropy combined over strided (N, C, d) logits and more classes than a workgroup has threads; past 4096 positions the eager kernels stay', async () => {
    tg.manualSeed(42);
    for (const [x, y, C, combined] of [
      [tg.randn([2, 3, 6]), tg.randint(0, 5, [2, 3]), 5, true],
      // 300 classes: a thread's serial part of a row, then the tree over all 256 slots
      [tg.randn([9, 6]), tg.randint(0, 300, [9]), 300, true],
      [tg.randn([4100, 6]), tg.randint(0, 5, [4100]), 5, false],
    ] as const) {
      const w = tg.randn([6, C]), cw = tg.rand([C]).add(0.5);
      const options = C === 300 ? { weight: cw.to('webgpu'), labelSmoothing: 0.2 } : {};
      const f = (w: tg.Tensor, x: tg.Tensor, y: tg.Tensor) => {
        const wl = w.detach().requiresGrad_();
        const logits = x.matmul(wl);
        const opts = options.weight && x.device === 'cpu' ? { ...options, weight: cw } : options;
        const loss = F.crossEntropy(logits.ndim === 3 ? logits.permute([0, 2, 1]) : logits, y, opts);
        loss.backward();
        const g = wl.grad!;
        wl.grad = null;
        return [loss, g];
      };
      const gpu = [w, x, y].map((t) => t.to('webgpu'));
      const cpu = await Promise.all(tg.tidy(() => f(w, x, y)).map(async (t) => Array.from(await t.data())));
      const eager = await Promise.all(tg.tidy(() => f(gpu[0]!, gpu[1]!, gpu[2]!)).map(async (t) => Array.from(await t.data())));
      const c = tg.compile(f);
      for (let i = 0; i < 2; i++) {
        const got = await Promise.all(c(gpu[0]!, gpu[1]!, gpu[2]!).map(async (t) => Array.from(await t.data())));
        expect(got, `${x.shape} call ${i}`).toEqual(eager);
        got.forEach((v, j) => expectClose(v, cpu[j]!, { atol: 1e-5, rtol: 1e-4 }, `${x.shape}, output ${j} against the CPU`));
      }
      expect(c.stats().graphs[0]!.fused, `${x.shape}`).toEqual(combined ? ['fused(crossEntropy,crossEntropyBackward)'] : []);
    }
  });

  it('a chain over broadcast, strided and scalar operands, where, clamp and activations: eager WebGPU bits, the CPU within tolerance', async () => {
    tg.manualSeed(3);
    const xs = [tg.randn([6, 40]), tg.randn([40]), tg.randn([40, 6])];
    const f = (x: tg.Tensor, b: tg.Tensor, t: tg.Tensor) => {
      const h = x.mul(b).add(t.transpose(0, 1)).sub(0.5).div(1.25);
      const k = h.where(x.gt(0), x.abs().sqrt()).clamp(-2, 2).sigmoid().tanh().mul(3);
      return F.hardswish(F.softplus(F.elu(F.leakyRelu(k, 0.1), 0.5), { beta: 2, threshold: 4 })).maximum(b).square();
    };
    const cpu = Array.from(tg.tidy(() => f(xs[0]!, xs[1]!, xs[2]!)).dataSync());
    const gpu = xs.map((x) => x.to('webgpu'));
    const eager = Array.from(await tg.tidy(() => f(gpu[0]!, gpu[1]!, gpu[2]!)).data());
    const c = tg.compile(f);
    for (let i = 0; i < 3; i++) {
      const r = c(gpu[0]!, gpu[1]!, gpu[2]!);
      const got = Array.from(await r.data());
      expect(got, `call ${i}`).toEqual(eager);
      expectClose(got, cpu, { atol: 1e-5, rtol: 1e-4 }, `call ${i} against the CPU`);
      r.dispose();
    }
    const g = c.stats().graphs[0]!;
    // only the mask (a bool result) stays out of the chain, which is one shader
    expect(g.fused).toEqual(['fused(mul,add,sub,div,abs,sqrt,where,clamp,sigmoid,tanh,mul,leakyRelu,elu,softplus,hardswish,maximum,square)']);
    expect(g.kernels).toBe(2);
  });

  it('forward under noGrad: epilogues after a batched matmul (broadcast and transposed operands) and conv2d without bias and with (grouped, reading a residual)', async () => {
    tg.manualSeed(6);
    const cases: [(...xs: tg.Tensor[]) => tg.Tensor, tg.Tensor[], string][] = [
      [(x, w, b) => noGrad(() => x.matmul(w).add(b).relu().mul(b.exp())), [tg.randn([3, 16, 24]), tg.randn([24, 20]), tg.randn([20, 1]).transpose(0, 1)], 'fused(matmul,add,relu,mul)'],
      [(x, w) => noGrad(() => F.leakyRelu(F.conv2d(x, w, null, { padding: 1 }), 0.3).abs().sqrt()), [tg.randn([2, 3, 8, 8]), tg.randn([4, 3, 3, 3])], 'fused(conv2d,leakyRelu,abs,sqrt)'],
      // an epilogue reading a tensor of its own at each output's index: conv2d's threads each store a run of channels (5 a group here: runs of 4 and 1)
      [(x, w, b, r) => noGrad(() => F.conv2d(x, w, b, { padding: 1, groups: 2 }).add(r).relu()), [tg.randn([2, 4, 6, 5]), tg.randn([10, 2, 3, 3]), tg.randn([10]), tg.randn([2, 10, 6, 5])], 'fused(conv2d,add,relu)'],
      // an epilogue reading the product's own operand: the product stays apart, the chain fuses
      [(x, w) => noGrad(() => x.matmul(w).add(x).relu().neg()), [tg.randn([12, 12]), tg.randn([12, 12])], 'fused(add,relu,neg)'],
    ];
    for (const [f, xs, group] of cases) {
      const cpu = Array.from(tg.tidy(() => f(...xs)).dataSync());
      const gpu = xs.map((x) => x.to('webgpu'));
      const eager = Array.from(await tg.tidy(() => f(...gpu)).data());
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = Array.from(await c(...gpu).data());
        expect(got, `${group}, call ${i}`).toEqual(eager);
        expectClose(got, cpu, { atol: 1e-4, rtol: 1e-4 }, `${group} against the CPU`);
      }
      expect(c.stats().graphs[0]!.fused).toEqual([group]);
    }
  });

  it('prologues: an elementwise chain computed as a sum, max, min or prod reads it (a loss, a mean of squares, a row max); epilogues after one', async () => {
    tg.manualSeed(7);
    const xs = [tg.randn([8, 300]), tg.randn([8, 300]), tg.randn([300])];
    const cases: [(...xs: tg.Tensor[]) => tg.Tensor, string[]][] = [
      [(x, y) => x.sub(y).square().mean(), ['fused(sub,square,sum)']],
      // a reduction without a prologue anchors an epilogue: the mean's division, a square root
      [(x) => x.mean(1).sqrt(), ['fused(sum,div,sqrt)']],
      [(x, y, b) => x.mul(b).add(y).relu().sum(1, true), ['fused(mul,add,relu,sum)']],
      [(x, y, b) => x.sub(b).abs().max(0), ['fused(sub,abs,max)']],
      [(x, y) => x.tanh().mul(y.sigmoid()).min(1), ['fused(tanh,sigmoid,mul,min)']],
      [(x) => x.mul(0.01).add(1).prod(1), ['fused(mul,add,prod)']],
      // what follows a reduction is not part of its chain; a reduction reading a transposed view of the chain stays apart
      [(x) => x.exp().sum(1).neg(), ['fused(exp,sum)']],
      [(x) => x.exp().transpose(0, 1).sum(0), []],
    ];
    for (const [f, groups] of cases) {
      const cpu = Array.from(tg.tidy(() => f(...xs)).dataSync());
      const gpu = xs.map((x) => x.to('webgpu'));
      const eager = Array.from(await tg.tidy(() => f(...gpu)).data());
      const c = tg.compile(f);
      for (let i = 0; i < 3; i++) {
        const got = Array.from(await c(...gpu).data());
        expect(got, `${groups[0]}, call ${i}`).toEqual(eager);
        expectClose(got, cpu, { atol: 1e-4, rtol: 1e-4 }, `${groups[0]} against the CPU`);
      }
      expect(c.stats().graphs[0]!.fused, groups[0]).toEqual(groups);
    }
  });

  it('ops whose WGSL helpers define the same names (erf and sin) stay apart, with the right values', async () => {
    const x = tg.tensor([0.1, -0.7, 1.5, 3]);
    const f = (x: tg.Tensor) => x.erf().sin();
    const expected = Array.from(await tg.tidy(() => f(x.to('webgpu'))).data());
    const c = tg.compile(f);
    for (let i = 0; i < 2; i++) expect(Array.from(await c(x.to('webgpu')).data())).toEqual(expected);
    expect(c.stats().graphs[0]!.fused).toEqual([]);
  });
});
