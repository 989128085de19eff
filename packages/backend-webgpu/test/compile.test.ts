// compile on WebGPU: until this backend brings its own replayer (bind groups built once, one
// command buffer per step), the generic one replays the recorded kernels through run(), with
// storage made and released per call as eager does. The same kernels in the same order give
// eager's bits; the device is one of the guards.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

/** Device bytes once the collector has run and the finalizers have returned what they free. */
async function settledBytes(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // V8 queues finalizers as tasks of their own, sometimes after the next timer: collect and
  // wait until two readings agree.
  let last = -1;
  for (;;) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
    const now = tg.memory().devices.webgpu!.bytes;
    if (now === last) return now;
    last = now;
  }
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
});
