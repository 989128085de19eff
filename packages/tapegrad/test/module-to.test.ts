// Module.to moves parameters, buffers and gradients under the same tensor objects, as PyTorch
// keeps parameter identity across .to(): an optimizer made before the move keeps training the
// model (issue 15, bug 3). These need a second device: WebGPU, through the software adapter in
// CI (TAPEGRAD_REQUIRE_WEBGPU=1 makes a missing adapter a failure rather than a skip).
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

const { nn, optim } = tg;

let why = '';
const gpu = await tg.initWebGPU().then(
  () => true,
  (e: Error) => ((why = e.message), false),
);
if (!gpu) {
  if (process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') {
    it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => {
      throw new Error(`no WebGPU device: ${why}`);
    });
  } else console.warn(`Module.to WebGPU tests skipped: ${why}\n(set TAPEGRAD_REQUIRE_WEBGPU=1 to make this a failure)`);
}
const gpuDescribe = gpu ? describe : describe.skip;

const makeModel = () => {
  tg.manualSeed(0);
  return new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 1));
};
// y = x0 - 2 x1 on [-1, 1]^2
const makeData = () => {
  tg.manualSeed(1);
  const x = tg.keep(tg.rand([32, 2]).mul(2).sub(1));
  return { x, y: tg.keep(tg.tidy(() => x.matmul(tg.tensor([[1], [-2]])))) };
};
async function train(model: tg.nn.Module, opt: tg.optim.Optimizer<{ lr: number }>, x: tg.Tensor, y: tg.Tensor, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    using _s = tg.scope();
    opt.zeroGrad();
    const loss = nn.functional.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(await loss.item());
  }
  return losses;
}
const values = async (ts: tg.Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.data())));
function expectNear(actual: number[][], expected: number[][], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => a.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!), `tensor ${i} [${j}]: ${v} vs ${expected[i]![j]}`).toBeLessThan(tol)));
}

gpuDescribe('Module.to keeps parameters the same objects (issue 15, bug 3)', () => {
  it("an optimizer made before model.to('webgpu') trains the moved model, step for step as the same model on the CPU", async () => {
    const model = makeModel();
    const params = model.parameters();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const initial = await values(params);
    expect(model.to('webgpu')).toBe(model);
    model.parameters().forEach((p, i) => expect(p, `parameter ${i} is the same object`).toBe(params[i]));
    for (const p of params) expect([p.device, p.requiresGrad, nn.isParameter(p)]).toEqual(['webgpu', true, true]);
    expect(await values(params)).toEqual(initial);

    const { x, y } = makeData();
    const [gx, gy] = [x.to('webgpu'), y.to('webgpu')];
    const losses = await train(model, opt, gx, gy, 10);
    const twin = makeModel();
    const twinOpt = new optim.SGD(twin.parameters(), { lr: 0.1, momentum: 0.9 });
    const twinLosses = await train(twin, twinOpt, x, y, 10);
    // the parameters the optimizer holds are the ones that trained
    const trained = await values(opt.paramGroups[0]!.params);
    trained.forEach((t, i) => expect(t, `parameter ${i} changed`).not.toEqual(initial[i]));
    expectNear(trained, await values(twin.parameters()), 1e-5);
    expectNear([losses], [twinLosses], 1e-5);
    expect(losses[9]!).toBeLessThan(losses[0]! / 2);
    for (const t of [x, y, gx, gy]) t.dispose();
    // the momentum buffers too: left to the collector, they would be freed in the middle of a later test
    opt.dispose();
    twinOpt.dispose();
    model.dispose();
    twin.dispose();
  });

  it('moves buffers and gradients too, and back with toAsync; memory() counts each tensor on its device', async () => {
    tg.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4));
    tg.tidy(() => model.forward(tg.randn([5, 3])).square().sum().backward()); // gradients, and running statistics
    const tensors = [...model.parameters(), ...model.buffers()];
    const names = [...model.namedParameters(), ...model.namedBuffers()].map(([n]) => n);
    const grads = model.parameters().map((p) => p.grad!);
    const [initial, initialGrads] = [await values(tensors), await values(grads)];
    const bytes = [...tensors, ...grads].reduce((n, t) => n + t.size * 4, 0); // float32 and int32
    const moved = tensors.length + grads.length;
    const count = (device: string) => {
      const c = tg.memory().devices[device];
      return [c?.tensors ?? 0, c?.bytes ?? 0];
    };
    const [cpu0, gpu0] = [count('cpu'), count('webgpu')];

    model.to('webgpu');
    expect([...model.parameters(), ...model.buffers()]).toEqual(tensors);
    [...model.parameters(), ...model.buffers()].forEach((t, i) => expect(t, names[i]).toBe(tensors[i]));
    expect([...model.namedParameters(), ...model.namedBuffers()].map(([n]) => n)).toEqual(names);
    expect(tensors.every((t) => t.device === 'webgpu') && model.parameters().every((p) => p.grad!.device === 'webgpu')).toBe(true);
    expect(await values(tensors)).toEqual(initial);
    expect(await values(model.parameters().map((p) => p.grad!))).toEqual(initialGrads);
    expect([count('cpu'), count('webgpu')]).toEqual([[cpu0[0]! - moved, cpu0[1]! - bytes], [gpu0[0]! + moved, gpu0[1]! + bytes]]);

    // back to the CPU: a synchronous read of the GPU is impossible, so to() says to await toAsync(), moving nothing
    expect(() => model.to('cpu')).toThrow(tg.DeviceError);
    expect(() => model.to('cpu')).toThrow("Module.to: moving off 'webgpu' needs an asynchronous read; use `await model.toAsync('cpu')`");
    expect(tensors.every((t) => t.device === 'webgpu')).toBe(true);
    expect(await model.toAsync('cpu')).toBe(model);
    [...model.parameters(), ...model.buffers()].forEach((t, i) => expect(t, names[i]).toBe(tensors[i]));
    expect(await values(tensors)).toEqual(initial);
    expect(await values(model.parameters().map((p) => p.grad!))).toEqual(initialGrads);
    expect([count('cpu'), count('webgpu')]).toEqual([cpu0, gpu0]);
    model.dispose();
  });

  it('a parameter shared by two modules stays shared', () => {
    const a = new nn.Linear(2, 2);
    const b = new nn.Linear(2, 2);
    b.weight.dispose();
    b.weight = a.weight;
    const model = new nn.Sequential(a, b);
    model.to('webgpu');
    expect(b.weight).toBe(a.weight);
    expect([a.weight.device, a.bias!.device, b.bias!.device]).toEqual(['webgpu', 'webgpu', 'webgpu']);
    model.dispose();
  });

  it('refuses, moving nothing, a disposed parameter, a non-leaf and a view, naming them', () => {
    const cases: [string, (m: tg.nn.Linear) => void, string][] = [
      ['disposed', (m) => m.bias!.dispose(), "Module.to: parameter 'bias' (shape [2]) was disposed"],
      ['non-leaf', (m) => (m.bias = nn.parameter(tg.zeros([2]).requiresGrad_().mul(2))), "Module.to: parameter 'bias' (shape [2]) is the output of 'mul', not a leaf"],
      ['view', (m) => (m.weight = nn.parameter(tg.zeros([3, 2]).T)), "Module.to: parameter 'weight' (shape [2, 3]) is a view (offset 0, strides [1, 2] into 6 elements)"],
    ];
    for (const [what, spoil, message] of cases) {
      const m = new nn.Linear(3, 2);
      spoil(m);
      expect(() => m.to('webgpu'), what).toThrow(message);
      expect(m.parameters().map((p) => p.device), what).toEqual(['cpu', 'cpu']);
    }
  });
});

gpuDescribe('optimizer state after model.to()', () => {
  it("state made on the CPU moves to its parameter's device at the next step (same objects), and training continues exactly", async () => {
    const { x, y } = makeData();
    const [model, twin] = [makeModel(), makeModel()];
    const [opt, twinOpt] = [model, twin].map((m) => new optim.Adam(m.parameters(), { lr: 0.05 }));
    await train(model, opt!, x, y, 3);
    await train(twin, twinOpt!, x, y, 3);
    const p0 = model.parameters()[0]!;
    const expAvg = opt!.state.get(p0)!.expAvg as tg.Tensor;
    model.to('webgpu');
    expect(expAvg.device).toBe('cpu');
    const [gx, gy] = [x.to('webgpu'), y.to('webgpu')];
    await train(model, opt!, gx, gy, 3);
    expect(opt!.state.get(p0)!.expAvg).toBe(expAvg);
    expect([...opt!.state.values()].flatMap((s) => Object.values(s).filter(tg.isTensor)).every((t) => t.device === 'webgpu')).toBe(true);
    await train(twin, twinOpt!, x, y, 3);
    expectNear(await values(model.parameters()), await values(twin.parameters()), 1e-5);
    for (const t of [x, y, gx, gy]) t.dispose();
    opt!.dispose();
    twinOpt!.dispose();
    model.dispose();
    twin.dispose();
  });

  it('state left on the GPU when the model returns to the CPU is an error naming both devices, and nothing steps', async () => {
    const { x, y } = makeData();
    const model = makeModel().to('webgpu');
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const [gx, gy] = [x.to('webgpu'), y.to('webgpu')];
    await train(model, opt, gx, gy, 1);
    await model.toAsync('cpu');
    tg.tidy(() => nn.functional.mseLoss(model.forward(x), y).backward());
    const before = await values(model.parameters());
    expect(() => opt.step()).toThrow(tg.DeviceError);
    expect(() => opt.step()).toThrow(
      "SGD.step: parameter 0 (shape [8, 2]): its state 'momentumBuffer' is on 'webgpu', but the parameter is now on 'cpu', and moving the state off 'webgpu' needs an asynchronous read; make the optimizer after moving the model",
    );
    expect(await values(model.parameters())).toEqual(before);
    for (const t of [x, y, gx, gy]) t.dispose();
    model.dispose();
  });

  it('a gradient on another device than its parameter is an error naming both', () => {
    const p = nn.parameter(tg.tensor([1, 2]));
    const q = nn.parameter(tg.tensor([3, 4]));
    const opt = new optim.SGD([p, q], { lr: 0.5 });
    p.grad = tg.tensor([1, 1]);
    q.grad = tg.tensor([1, 1]).to('webgpu');
    expect(() => opt.step()).toThrow(tg.DeviceError);
    expect(() => opt.step()).toThrow("SGD.step: parameter 1 (shape [2]): its gradient is on 'webgpu', but the parameter is on 'cpu'");
    expect(Array.from(p.dataSync())).toEqual([1, 2]);
  });
});

gpuDescribe('a move and the graph recorded before it', () => {
  it('keeps the version counter, and backward through the old graph says the leaf moved', () => {
    const model = makeModel();
    const lin = model.children()[0] as tg.nn.Linear;
    tg.noGrad(() => lin.weight.mul_(1));
    const v = lin.weight.version;
    const loss = model.forward(tg.ones([1, 2])).sum(); // recorded on the CPU
    model.to('webgpu');
    expect(lin.weight.version).toBe(v);
    expect(() => loss.backward()).toThrow(/backward: the gradient of a leaf of shape \[\d+(, \d+)?\] is on 'cpu', but the leaf is on 'webgpu'/);
  });
});
