// compile on WebGPU: this backend's replayer (replay.ts) encodes each call as one command buffer
// over memory planned once, with bind groups and metadata built once. The same kernels in the
// same order give eager's bits; the device is one of the guards.
import { expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { settleMemory } from '../../../vitest.settle.js';
import { MnistCnn, openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

// after a collection whose finalizers are known to have run (vitest.settle.ts says why timers alone
// are not enough), the bytes WebGPU holds
async function settledBytes(): Promise<number> {
  await settleMemory();
  return tg.memory().devices.webgpu!.bytes;
}

function trainer(opt: 'sgd' | 'adam') {
  tg.manualSeed(5);
  const m = new nn.Sequential(new nn.Linear(20, 16), new nn.ReLU(), new nn.Linear(16, 4)).to('webgpu');
  const o: nn.optim.Optimizer<{ lr: number }> = opt === 'sgd' ? new nn.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }) : new nn.optim.Adam(m.parameters(), { lr: 0.01 });
  const step = (x: tg.Tensor, y: tg.Tensor) => {
    const loss = nn.functional.crossEntropy(m.forward(x), y);
    o.zeroGrad();
    loss.backward();
    o.step();
    return loss;
  };
  return { m, o, step };
}

gpuDescribe('compile on WebGPU', () => {
  for (const opt of ['sgd', 'adam'] as const) {
    it(`an MLP step with ${opt}: replays give eager's bits, and memory stays flat`, async () => {
      tg.manualSeed(1);
      const x = tg.randn([8, 20]).to('webgpu'), y = tg.randint(0, 4, [8]).to('webgpu');
      const e = trainer(opt), c = trainer(opt);
      const step = tg.compile(c.step);
      let flat: number | undefined;
      for (let i = 0; i < 8; i++) {
        const le = tg.tidy(() => e.step(x, y));
        const lc = step(x, y);
        expect(Array.from(await lc.data()), `step ${i}`).toEqual(Array.from(await le.data()));
        const pe = e.m.parameters(), pc = c.m.parameters();
        for (let k = 0; k < pe.length; k++) {
          expect(Array.from(await pc[k]!.data()), `step ${i}, parameter ${k}`).toEqual(Array.from(await pe[k]!.data()));
          expect(Array.from(await pc[k]!.grad!.data()), `step ${i}, grad ${k}`).toEqual(Array.from(await pe[k]!.grad!.data()));
        }
        le.dispose();
        lc.dispose();
        if (i === 3) flat = await settledBytes();
        if (i > 3) expect(await settledBytes(), `step ${i}`).toBe(flat);
      }
      expect([step.stats().traces, step.stats().replays]).toEqual([2, 6]);
      await backend!.sync();
      // Free all of it now: left to the finalizers, it would be returned in the middle of the
      // next test's flat-memory check (CI saw a 5.6 kB drop there).
      for (const t of [e, c]) {
        t.o.zeroGrad();
        t.o.dispose();
        for (const p of t.m.parameters()) p.dispose();
      }
      x.dispose();
      y.dispose();
    });
  }
  it("a bad class target: the replayed step checks the device's errors where eager's optimizer does, and throws the same", async () => {
    tg.manualSeed(2);
    const x = tg.randn([8, 20]).to('webgpu');
    const good = tg.randint(0, 4, [8]).to('webgpu'), bad = tg.tensor([0, 1, 2, 3, 9, 1, 2, 3], { dtype: 'int32' }).to('webgpu');
    const e = trainer('sgd'), c = trainer('sgd');
    const step = tg.compile(c.step);
    const errors: string[] = [];
    for (const run of [(x: tg.Tensor, y: tg.Tensor) => tg.tidy(() => e.step(x, y)), step]) {
      for (let i = 0; i < 3; i++) run(x, good).dispose();
      run(x, bad).dispose(); // the kernel finds the target after the op returned: this step is applied
      await backend!.sync();
      try {
        run(x, good);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    expect(step.stats().replays).toBe(3);
    expect(errors.length).toBe(2);
    expect(errors[1]).toBe(errors[0]);
    expect(errors[0]).toMatch(/crossEntropy/);
  });
  it('the device is a guard: the same function on the CPU and on WebGPU keeps a graph for each', async () => {
    const f = tg.compile((x: tg.Tensor) => x.mul(2).add(1));
    const cpu = tg.tensor([1, 2, 3]);
    const gpu = cpu.to('webgpu');
    for (let i = 0; i < 2; i++) {
      expect(Array.from(f(cpu).dataSync())).toEqual([3, 5, 7]);
      expect(Array.from(await f(gpu).data())).toEqual([3, 5, 7]);
    }
    expect([f.stats().traces, f.stats().replays]).toEqual([2, 2]);
    expect(f.stats().lastRetrace).toBe("tensor argument 0 is on 'webgpu' now, was on 'cpu'");
  });

  it('a replayed call is one submit, with no bind group made after the first replays, over planned memory', async () => {
    tg.manualSeed(1);
    const x = tg.randn([8, 20]).to('webgpu'), y = tg.randint(0, 4, [8]).to('webgpu');
    const c = trainer('adam');
    const step = tg.compile(c.step);
    // trace, trace (Adam's state now made), then two replays make the bind groups: the second
    // one's new gradients are made while the first one's are still set (zeroGrad's disposal comes
    // after), so two sets of buffers take turns
    for (let i = 0; i < 4; i++) step(x, y).dispose();
    await backend!.sync();
    // garbage an earlier call left is freed by finalizers whenever V8 collects (CI, under load: in
    // the await above), and the pool hands its buffers out first, to new bind groups: collect it
    // all now, then let the two sets of buffers settle into their turns again before counting
    // (the loop below is synchronous: no finalizer runs inside it)
    await settledBytes();
    for (let i = 0; i < 4; i++) step(x, y).dispose();
    for (let i = 0; i < 4; i++) {
      const { submits, dispatches, bindGroupHits } = backend!.counters;
      step(x, y).dispose();
      expect(backend!.counters.submits - submits, `call ${i}`).toBe(1);
      const n = backend!.counters.dispatches - dispatches;
      // the whole step: 4 kernels, Adam's last parameter past the bindings in a dispatch of its own
      expect(n).toBeGreaterThanOrEqual(5);
      expect(backend!.counters.bindGroupHits - bindGroupHits, `call ${i}: every dispatch reuses its bind group`).toBe(n);
    }
    const g = step.stats().graphs[0]!;
    expect(g.plannedBytes).toBeGreaterThan(0);
    expect(g.peakBytes).toBeGreaterThan(0);
    expect(g.peakBytes).toBeLessThanOrEqual(g.plannedBytes);
    expect(step.explain()).toMatch(new RegExp(`bytes planned for intermediates \\(peak ${g.peakBytes}\\)`));
    x.dispose();
    y.dispose();
    c.o.zeroGrad();
    c.o.dispose();
  });
});

gpuDescribe('compile on WebGPU: host writes keep their place among the kernels', () => {
  it("host data written into a block another buffer held is written after that buffer's last kernel, each call", async () => {
    const f = (x: tg.Tensor) => {
      const s = x.mul(2).sum(); // its [64] intermediate's block is free after the sum
      // zeros written from the host (not a constant: add_ writes it) take that block over; written
      // with queue.writeBuffer, they would land before this call's mul and sum, which would read them
      const z = tg.zeros([64], { device: 'webgpu' });
      z.add_(x);
      return z.add(s);
    };
    const x = tg.randn([64]).to('webgpu');
    const expected = Array.from(await tg.tidy(() => f(x)).data());
    const c = tg.compile(f);
    for (let i = 0; i < 3; i++) {
      const y = c(x);
      expect(Array.from(await y.data()), `call ${i}`).toEqual(expected);
      y.dispose();
    }
    expect(c.stats().replays).toBe(2);
    expect(c.stats().graphs[0]!.plannedBytes).toBeLessThan(2 * 64 * 4 + 64); // the two [64] buffers share a block
    x.dispose();
  });
});

gpuDescribe('compile on WebGPU: more checking dispatches than one batch has error records', () => {
  it('a replay of 140 gathers submits every 128 checks, and a bad index in the last one still fails the read', async () => {
    const x = tg.randn([4, 6]).to('webgpu');
    const chain = (x: tg.Tensor, idx: tg.Tensor) => {
      let y = x;
      for (let i = 0; i < 140; i++) y = tg.gather(y, 1, idx);
      return y;
    };
    const good = tg.tensor([[5, 0, 1, 2, 3, 4], [1, 2, 3, 4, 5, 0], [0, 0, 1, 1, 2, 2], [3, 3, 3, 3, 3, 3]], { dtype: 'int32' }).to('webgpu');
    const bad = tg.tensor([[5, 0, 1, 2, 3, 4], [1, 2, 3, 4, 5, 0], [0, 0, 1, 1, 2, 2], [3, 3, 3, 3, 3, 6]], { dtype: 'int32' }).to('webgpu');
    const f = tg.compile(chain);
    const expected = Array.from(await tg.tidy(() => chain(x, good)).data());
    for (let i = 0; i < 3; i++) {
      const { submits } = backend!.counters;
      const y = f(x, good);
      if (i > 0) expect(backend!.counters.submits - submits, `call ${i}`).toBe(2);
      expect(Array.from(await y.data()), `call ${i}`).toEqual(expected);
      y.dispose();
    }
    const y = f(x, bad);
    await expect(y.data()).rejects.toThrow(/gather/);
    expect(f.stats().replays).toBe(3);
    for (const t of [x, good, bad, y]) t.dispose();
  });
});

// ---- the MNIST MLP and CNN training steps, as packages/tapegrad/test/compile.test.ts on the CPU
function mnistTrainer(model: 'mlp' | 'cnn', opt: 'sgd' | 'adam', steps: number, dropout: boolean) {
  tg.manualSeed(7);
  const m = (model === 'mlp'
    ? new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 32), new nn.ReLU(), ...(dropout ? [new nn.Dropout(0.3)] : []), new nn.Linear(32, 10))
    : new MnistCnn()
  ).to('webgpu');
  const o: nn.optim.Optimizer<{ lr: number }> = opt === 'sgd' ? new nn.optim.SGD(m.parameters(), { lr: 0.05, momentum: 0.9 }) : new nn.optim.Adam(m.parameters(), { lr: 0.005 });
  // the rate changes every step: a replay writes it (and Adam's step) into its kernel's metadata anew
  const schedule = new nn.optim.OneCycleLR(o, { maxLr: opt === 'sgd' ? 0.1 : 0.01, totalSteps: steps });
  const step = (x: tg.Tensor, y: tg.Tensor) => {
    const loss = nn.functional.crossEntropy(m.forward(x), y);
    o.zeroGrad();
    loss.backward();
    o.step();
    return loss;
  };
  return { m, o, schedule, step };
}
const bitsOf = async (t: tg.Tensor | null) => (t ? Array.from(await t.data()) : null);
async function trainBoth(model: 'mlp' | 'cnn', opt: 'sgd' | 'adam', steps: number, dropout = false) {
  tg.manualSeed(3);
  const data = Array.from({ length: 3 }, () => [tg.randn(model === 'mlp' ? [16, 784] : [4, 1, 28, 28]).to('webgpu'), tg.randint(0, 10, [model === 'mlp' ? 16 : 4]).to('webgpu')] as const);
  const eager = mnistTrainer(model, opt, steps, dropout), compiled = mnistTrainer(model, opt, steps, dropout);
  const step = tg.compile(compiled.step);
  for (let i = 0; i < steps; i++) {
    const [x, y] = data[i % data.length]!;
    tg.manualSeed(100 + i); // dropout's masks: the same generator state on both sides
    const le = tg.tidy(() => eager.step(x, y));
    eager.schedule.step();
    tg.manualSeed(100 + i);
    const lc = step(x, y);
    compiled.schedule.step();
    expect(await bitsOf(lc), `step ${i}: loss`).toEqual(await bitsOf(le));
    const pe = eager.m.parameters(), pc = compiled.m.parameters();
    for (let k = 0; k < pe.length; k++) {
      expect(await bitsOf(pc[k]!), `step ${i}: parameter ${k}`).toEqual(await bitsOf(pe[k]!));
      expect(await bitsOf(pc[k]!.grad), `step ${i}: grad ${k}`).toEqual(await bitsOf(pe[k]!.grad));
      const se = eager.o.state.get(pe[k]!)!, sc = compiled.o.state.get(pc[k]!)!;
      for (const [key, v] of Object.entries(se)) {
        if (typeof v === 'number') expect(sc[key], `step ${i}: state ${key} ${k}`).toBe(v);
        else expect(await bitsOf(sc[key] as tg.Tensor), `step ${i}: state ${key} ${k}`).toEqual(await bitsOf(v));
      }
    }
    le.dispose();
    lc.dispose();
  }
  for (const t of [eager, compiled]) {
    t.o.zeroGrad();
    t.o.dispose();
  }
  for (const [x, y] of data) x.dispose(), y.dispose();
  return step;
}

gpuDescribe('compiled MNIST training on WebGPU is bit-identical to eager WebGPU', () => {
  for (const [model, opt, steps] of [['mlp', 'sgd', 8], ['mlp', 'adam', 8], ['cnn', 'sgd', 5], ['cnn', 'adam', 5]] as const) {
    it(`${model} with ${opt} and a one-cycle schedule: losses, parameters, gradients and optimizer state`, async () => {
      const s = (await trainBoth(model, opt, steps)).stats();
      expect([s.traces, s.replays, s.eagerCalls]).toEqual([2, steps - 2, 0]);
      expect(s.graphs[0]!.plannedBytes).toBeGreaterThan(0);
    });
  }
  it('with dropout (masks drawn again at each replay, uploaded in the command stream)', async () => {
    expect((await trainBoth('mlp', 'sgd', 6, true)).stats().replays).toBe(4);
  });
  it('in poison mode (planned blocks poisoned in the command stream where eager would hand out unfilled memory)', async () => {
    const old = tg.setPoisonMode(true);
    try {
      expect((await trainBoth('mlp', 'adam', 5, true)).stats().replays).toBe(3);
      expect((await trainBoth('cnn', 'sgd', 4)).stats().replays).toBe(2);
    } finally {
      tg.setPoisonMode(old);
    }
  });
});
