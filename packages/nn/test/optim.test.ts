import { describe, expect, it } from 'vitest';
import { DTypeError, ShapeError, TapegradError, ValueError, memory, mul, pow, sum, tanh, tensor, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import { Linear, optim, parameter } from '../src/index.js';
import { expectClose, f64, ref } from './helpers.js';

const camel = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), v]));
const make = (name: string, params: Tensor[], options: Record<string, unknown>) => {
  const Cls = (optim as unknown as Record<string, new (p: Tensor[], o: object) => optim.Optimizer<{ lr: number }>>)[name]!;
  return new Cls(params, camel(options));
};

describe('optimizers against PyTorch', () => {
  const o = ref.optim;
  const variants = (name: string) => (name === 'RMSprop' ? [{}] : [{ fused: true }, { fused: false }]);
  for (const c of o.cases) for (const variant of variants(c.optimizer)) {
    it(`${c.optimizer} ${JSON.stringify({ ...c.options, ...variant })}: three steps`, () => {
      const w = f64(o.w0, true);
      const b = f64(o.b0, true);
      const x = f64(o.x);
      const opt = make(c.optimizer, [w, b], { ...c.options, ...variant });
      for (const step of c.steps) {
        opt.zeroGrad();
        tidy(() => sum(pow(tanh(x.matmul(w).add(b)), 2)).add(sum(pow(w, 3))).backward());
        opt.step();
        expectClose(w, step.w, 1e-10);
        expectClose(b, step.b, 1e-10);
      }
    });
  }
  it('steps without growing memory', () => {
    const m = new Linear(4, 3);
    const opt = new optim.Adam(m.parameters(), { lr: 0.1, amsgrad: true });
    const x = tensor([[1, 2, 3, 4]]);
    const step = () => tidy(() => {
      opt.zeroGrad();
      m.forward(x).sum().backward();
      opt.step();
    });
    step();
    const before = memory();
    for (let i = 0; i < 5; i++) step();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().bytes).toBe(before.bytes);
  });
  it('rejects bad hyperparameters and parameters', () => {
    const p = parameter(zeros([2]));
    expect(() => new optim.SGD([p], { lr: -1 })).toThrow(/SGD: lr must be a number >= 0; got -1/);
    expect(() => new optim.SGD([p], { nesterov: true })).toThrow(/nesterov/);
    expect(() => new optim.Adam([p], { betas: [1, 0.9] })).toThrow(/Adam: betas\[0\] must be in \[0, 1\); got 1/);
    expect(() => new optim.SGD([p.mul(2)])).toThrow(/can only optimize leaf tensors/);
    expect(() => new optim.SGD([])).toThrow(/empty parameter list/);
  });
  it('param groups keep their own hyperparameters', () => {
    const a = parameter(tensor([1]));
    const b = parameter(tensor([1]));
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    a.grad = tensor([1]);
    b.grad = tensor([1]);
    opt.step();
    expect(a.itemSync()).toBeCloseTo(0.9);
    expect(b.itemSync()).toBeCloseTo(0.5);
  });
  it('stateDict round-trips: a restored optimizer continues exactly', () => {
    const run = (opt: optim.Optimizer<{ lr: number }>, w: Tensor) => {
      opt.zeroGrad();
      tidy(() => sum(mul(pow(w, 2), tensor([1, 3]))).backward());
      opt.step();
    };
    const w1 = parameter(tensor([1, -2]));
    const o1 = new optim.Adam([w1], { lr: 0.1 });
    run(o1, w1);
    const w2 = parameter(tensor(Float32Array.from(w1.dataSync())));
    const o2 = new optim.Adam([w2], { lr: 0.5 });
    o2.loadStateDict(o1.stateDict());
    expect(o2.paramGroups[0]!.lr).toBe(0.1);
    run(o1, w1);
    run(o2, w2);
    expect(Array.from(w2.dataSync())).toEqual(Array.from(w1.dataSync()));
    expect(o1.stateDict().state[0]!.step).toBe(2);
    const o3 = new optim.Adam([parameter(zeros([3]))]);
    expect(() => o3.loadStateDict(o1.stateDict())).toThrow(/state 'expAvg' of parameter 0 has shape \[2\], but the parameter has \[3\]/);
    expect(() => new optim.Adam([parameter(zeros([2])), parameter(zeros([2]))]).loadStateDict(o1.stateDict())).toThrow(/group 0 has 1 parameters/);
  });
});

describe('schedulers and clipGradNorm against PyTorch', () => {
  const s = ref.schedulers;
  const lrs = (sched: (o: optim.SGD) => optim.LRScheduler, key: 'lr' | 'momentum' = 'lr') => {
    const opt = new optim.SGD([parameter(zeros([1]))], { lr: 0.1, momentum: 0.9 });
    const sc = sched(opt);
    const out: number[] = [];
    for (let i = 0; i < 12; i++) {
      out.push(opt.paramGroups[0]![key]);
      opt.step();
      sc.step();
    }
    return out;
  };
  const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 12));
  it('StepLR', () => close(lrs((o) => new optim.StepLR(o, { stepSize: 3, gamma: 0.5 })), s.StepLR));
  it('CosineAnnealingLR', () => close(lrs((o) => new optim.CosineAnnealingLR(o, { tMax: 5, etaMin: 0.01 })), s.CosineAnnealingLR));
  it('OneCycleLR (rate and momentum)', () => {
    close(lrs((o) => new optim.OneCycleLR(o, { maxLr: 1, totalSteps: 12 })), s.OneCycleLR);
    close(lrs((o) => new optim.OneCycleLR(o, { maxLr: 1, totalSteps: 12 }), 'momentum'), s.OneCycleLRMomentum);
    const opt = new optim.SGD([parameter(zeros([1]))], { lr: 0.1 });
    const sc = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 2, cycleMomentum: false });
    sc.step();
    sc.step();
    expect(() => sc.step()).toThrow(/past totalSteps=2/);
    expect(() => new optim.StepLR(opt, { stepSize: 0 })).toThrow(ValueError);
  });
  it('clipGradNorm scales gradients to the max norm and returns the total', () => {
    const c = s.clipGradNorm;
    const a = parameter(tensor([3, 4]));
    const b = parameter(tensor([[12]]));
    a.grad = tensor([3, 4]);
    b.grad = tensor([[12]]);
    expect(optim.clipGradNorm([a, b], 6.5).itemSync()).toBeCloseTo(c.total, 5);
    Array.from(a.grad.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(c.a[i], 5));
    expect(b.grad.itemSync()).toBeCloseTo(c.c[0], 5);
    expect(optim.clipGradNorm([a, b], 100).itemSync()).toBeCloseTo(6.5, 4);
    expect(b.grad.itemSync()).toBeCloseTo(c.c[0], 5);
    a.grad = tensor([-7, 2]);
    expect(optim.clipGradNorm([a], 1, Infinity).itemSync()).toBeCloseTo(7, 5);
    expect(a.grad.dataSync()[0]).toBeCloseTo(-1, 5);
  });
});

describe('step refuses what it used to skip or broadcast, before any parameter changes (issue 15, bug 3)', () => {
  const OPTIMIZERS: [string, Record<string, unknown>][] = [
    ['SGD', { momentum: 0.9 }],
    ['SGD', { momentum: 0.9, fused: false }],
    ['Adam', {}],
    ['AdamW', { fused: false }],
    ['RMSprop', {}],
  ];
  // parameter 0 is fine; parameter 1 (shape [2]) is broken by `spoil`
  const CASES: [string, (b: Tensor) => void, new (...a: never[]) => Error, string][] = [
    ['a disposed parameter', (b) => b.dispose(), TapegradError, 'parameter 1 (shape [2]) was disposed; an optimizer needs its parameters alive (make it for the model\'s current parameters)'],
    ['a gradient of another shape', (b) => (b.grad = tensor([1])), ShapeError, "parameter 1 (shape [2]): its gradient has shape [1]; expected the parameter's shape"],
    ['a float64 gradient of a float32 parameter', (b) => (b.grad = tensor([1, 1], { dtype: 'float64' })), DTypeError, 'parameter 1 (shape [2]): its gradient is float64, but the parameter is float32'],
    ['a gradient disposed but still set', (b) => (b.grad = tensor([1, 1])).dispose(), TapegradError, 'parameter 1 (shape [2]): its gradient was disposed but is still set; set `p.grad = null` to skip the parameter'],
  ];
  for (const [name, options] of OPTIMIZERS) for (const [what, spoil, type, message] of CASES) {
    it(`${name} ${JSON.stringify(options)}: ${what}`, () => {
      const a = parameter(tensor([1, 2]));
      const b = parameter(tensor([3, 4]));
      const opt = make(name, [a, b], { lr: 0.1, ...options });
      a.grad = tensor([1, 1]);
      b.grad = tensor([1, 1]);
      spoil(b);
      expect(() => opt.step()).toThrow(type);
      expect(() => opt.step()).toThrow(`${name}.step: ${message}`);
      expect(Array.from(a.dataSync())).toEqual([1, 2]);
      expect(opt.state.size).toBe(0);
    });
  }
  it('numbers parameters across groups, as stateDict does', () => {
    const [a, b, c] = [parameter(zeros([1])), parameter(zeros([3])), parameter(zeros([2, 2]))];
    const opt = new optim.SGD([{ params: [a, b] }, { params: [c], lr: 0.5 }]);
    c.dispose();
    expect(() => opt.step()).toThrow('SGD.step: parameter 2 (shape [2, 2]) was disposed');
  });
  it('a parameter without a gradient is skipped, as in PyTorch', () => {
    const a = parameter(tensor([1, 2]));
    const b = parameter(tensor([3, 4]));
    const opt = new optim.SGD([a, b], { lr: 0.5 });
    a.grad = tensor([1, 1]);
    opt.step();
    expect([Array.from(a.dataSync()), Array.from(b.dataSync())]).toEqual([[0.5, 1.5], [3, 4]]);
  });
});

describe('loadStateDict', () => {
  it("loads the optimizer's own state dict without losing its state", () => {
    const w = parameter(tensor([1, 2]));
    const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.5 });
    w.grad = tensor([1, 1]);
    opt.step(); // momentum buffer [1, 1]; w = [0.9, 1.9]
    opt.loadStateDict(opt.stateDict());
    opt.step(); // buffer 0.5 * [1, 1] + [1, 1] = [1.5, 1.5]; w -= 0.15
    const [w0, w1] = w.dataSync();
    expect([w0, w1].map((v) => v!.toFixed(5))).toEqual(['0.75000', '1.75000']);
    expect(Array.from((opt.state.get(w)!.momentumBuffer as Tensor).dataSync())).toEqual([1.5, 1.5]);
  });
});

// issue 17
describe('dispose', () => {
  it("frees the optimizer's state and leaves the parameters; a later step starts the state afresh", () => {
    const w = parameter(tensor([1, 2]));
    const before = memory().tensors;
    const opt = new optim.Adam([w], { lr: 0.1 });
    w.grad = tensor([1, 1]);
    opt.step();
    w.grad.dispose();
    w.grad = null;
    expect(memory().tensors).toBeGreaterThan(before); // the moments
    opt.dispose();
    expect(memory().tensors).toBe(before);
    expect(opt.state.size).toBe(0);
    expect(w.isDisposed).toBe(false);
    w.grad = tensor([1, 1]);
    opt.step(); // step 1 again: Adam's first step moves each element by lr
    expect(Array.from(w.dataSync()).map((v) => v.toFixed(5))).toEqual(['0.80000', '1.80000']);
  });
});
