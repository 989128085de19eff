// Issue 16's layers, activations and functions against PyTorch: fixtures/gen_i16-nn.py builds
// each torch module, stores its state dict, input, output and the gradients of sum(out * seed);
// here the same state dict is loaded into the tapegrad module by the same names (which checks
// the names too), and the output and every gradient must match (float64).
import './helpers.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '@tapegrad/tensor';
import {
  AdaptiveAvgPool2d, Conv1d, ConvTranspose2d, ELU, GroupNorm, Hardswish, Identity, LeakyReLU, Linear, Mish, Module, ModuleDict, ModuleList, ParameterDict,
  ParameterList, SiLU, Softplus, Upsample, functional as F, parameter,
} from '../src/index.js';

interface Enc { shape: number[]; data: (number | string)[] }
const ref = JSON.parse(readFileSync(new URL('./fixtures/i16-nn.json', import.meta.url), 'utf8'));
const values = (e: Enc) => e.data.map(Number);
const f64 = (e: Enc, requiresGrad = false) => tensor(Float64Array.from(values(e)), { shape: e.shape, dtype: 'float64', requiresGrad });

/** Relative closeness (to 1 + |expected|), NaN equal to NaN, infinities to themselves. */
function expectClose(t: Tensor, e: Enc, what: string, tol = 1e-10): void {
  expect(t.shape, `${what}: shape`).toEqual(e.shape);
  const got = t.dataSync();
  values(e).forEach((v, i) => {
    const g = got[i]!;
    const ok = Number.isNaN(v) ? Number.isNaN(g) : g === v || Math.abs(g - v) / (1 + Math.abs(v)) <= tol;
    if (!ok) expect.fail(`${what}: element ${i} is ${g}, PyTorch's is ${v}`);
  });
}

/** Forward `fn` on the stored input, backward with the stored seed, compare output and gradients. */
function check(what: string, c: { input: Enc; out: Enc; seed: Enc; grads: Record<string, Enc | null> }, fn: (x: Tensor) => Tensor, params: Record<string, Tensor> = {}, tol?: number): void {
  const x = f64(c.input, true);
  const y = fn(x);
  expectClose(y, c.out, `${what} output`, tol);
  y.mul(f64(c.seed)).sum().backward();
  for (const [name, g] of Object.entries(c.grads)) {
    const t = name === 'input' ? x : params[name];
    if (!t) throw new Error(`${what}: no tensor named ${name}`);
    if (g) expectClose(t.grad!, g, `${what} gradient of ${name}`, tol);
    else expect(t.grad, `${what} gradient of ${name}`).toBeNull();
  }
}

const ACTIVATIONS: Record<string, () => Module> = {
  'SiLU()': () => new SiLU(),
  'LeakyReLU()': () => new LeakyReLU(),
  'LeakyReLU(0.2)': () => new LeakyReLU(0.2),
  'ELU()': () => new ELU(),
  'ELU(0.5)': () => new ELU(0.5),
  'Softplus()': () => new Softplus(),
  'Softplus(beta=2, threshold=5)': () => new Softplus({ beta: 2, threshold: 5 }),
  'Softplus(beta=0.5)': () => new Softplus({ beta: 0.5 }),
  'Mish()': () => new Mish(),
  'Hardswish()': () => new Hardswish(),
  'Identity()': () => new Identity(),
};

describe('activations against PyTorch (kinks, very negative and very large inputs included)', () => {
  for (const c of ref.activations) {
    it(c.name, () => check(c.name, c, (x) => ACTIVATIONS[c.name]!().call(x), {}, 1e-12));
  }
  it("SiLU in float32 (the CPU's own loops for contiguous float32) against PyTorch's float64 values", () => {
    const c = ref.activations.find((a: { name: string }) => a.name === 'SiLU()');
    const x = f64(c.input).cast('float32').requiresGrad_();
    const y = F.silu(x);
    expectClose(y, c.out, 'float32 output', 1e-6);
    y.mul(f64(c.seed).cast('float32')).sum().backward();
    expectClose(x.grad!, c.grads.input, 'float32 gradient', 1e-6);
  });
  it('the functional forms are the modules', () => {
    const x = tensor([-2, -0.5, 0, 1.5, 4]);
    const same = (a: Tensor, b: Tensor) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    same(F.silu(x), new SiLU().call(x));
    same(F.leakyRelu(x, 0.3), new LeakyReLU(0.3).call(x));
    same(F.elu(x, 2), new ELU(2).call(x));
    same(F.softplus(x, { beta: 3, threshold: 2 }), new Softplus({ beta: 3, threshold: 2 }).call(x));
    same(F.mish(x), new Mish().call(x));
    same(F.hardswish(x), new Hardswish().call(x));
    expect(Array.from(F.relu(x).dataSync())).toEqual([0, 0, 0, 1.5, 4]);
    expect(F.sigmoid(tensor([0])).itemSync()).toBe(0.5);
    expect(F.tanh(tensor([0])).itemSync()).toBe(0);
  });
});

describe('normalize, cosineSimilarity and oneHot against PyTorch', () => {
  for (const c of ref.functional.normalize) {
    it(`normalize ${c.name}`, () => {
      const o = { ...c.options, p: c.options.p === 'inf' ? Infinity : c.options.p };
      check(`normalize ${c.name}`, c, (x) => F.normalize(x, o));
    });
  }
  for (const c of ref.functional.cosineSimilarity) {
    it(`cosineSimilarity ${c.name}`, () => {
      const [a, b] = [f64(c.x1, true), f64(c.x2, true)];
      const y = F.cosineSimilarity(a, b, c.options.dim, c.options.eps);
      expectClose(y, c.out, 'output');
      y.mul(f64(c.seed)).sum().backward();
      expectClose(a.grad!, c.grads.x1, 'gradient of x1', 1e-9);
      expectClose(b.grad!, c.grads.x2, 'gradient of x2', 1e-9);
    });
  }
  for (const c of ref.functional.oneHot) {
    it(`oneHot numClasses ${c.numClasses}`, () => {
      const y = F.oneHot(tensor(Int32Array.from(c.index.data), { shape: c.index.shape, dtype: 'int32' }), c.numClasses);
      expect(y.shape).toEqual(c.out.shape);
      expect(Array.from(y.dataSync())).toEqual(c.out.data);
    });
  }
});

const O = { dtype: 'float64' } as const;
const LAYERS: Record<string, () => Module> = {
  'Conv1d(4,6,3,stride=2,padding=1,groups=2)': () => new Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2, ...O }),
  'Conv1d(3,5,4,dilation=2,bias=False)': () => new Conv1d(3, 5, 4, { dilation: 2, bias: false, ...O }),
  'Conv1d(2,3,3,padding=same)': () => new Conv1d(2, 3, 3, { padding: 'same', ...O }),
  'Conv1d(3,4,2) unbatched': () => new Conv1d(3, 4, 2, O),
  'ConvTranspose2d(3,4,3)': () => new ConvTranspose2d(3, 4, 3, O),
  'ConvTranspose2d(4,6,3,stride=2,padding=1,output_padding=1,groups=2)': () => new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, ...O }),
  'ConvTranspose2d(2,3,(2,3),stride=(2,1),padding=(0,1),dilation=(1,2),bias=False)': () =>
    new ConvTranspose2d(2, 3, [2, 3], { stride: [2, 1], padding: [0, 1], dilation: [1, 2], bias: false, ...O }),
  'ConvTranspose2d(2,2,3,dilation=2,output_padding=1)': () => new ConvTranspose2d(2, 2, 3, { dilation: 2, outputPadding: 1, ...O }),
  'ConvTranspose2d(3,2,4,stride=2,padding=1) output_size=(9,8)': () => new ConvTranspose2d(3, 2, 4, { stride: 2, padding: 1, ...O }),
  'ConvTranspose2d(3,3,3,stride=2) unbatched': () => new ConvTranspose2d(3, 3, 3, { stride: 2, ...O }),
  'GroupNorm(2,6)': () => new GroupNorm(2, 6, O),
  'GroupNorm(3,3,affine=False)': () => new GroupNorm(3, 3, { affine: false, ...O }),
  'GroupNorm(1,4,eps=1e-3)': () => new GroupNorm(1, 4, { eps: 1e-3, ...O }),
  'AdaptiveAvgPool2d((3,3))': () => new AdaptiveAvgPool2d([3, 3]),
  'AdaptiveAvgPool2d((2,5))': () => new AdaptiveAvgPool2d([2, 5]),
  'AdaptiveAvgPool2d(1)': () => new AdaptiveAvgPool2d(1),
  'AdaptiveAvgPool2d((4,2))': () => new AdaptiveAvgPool2d([4, 2]),
  'AdaptiveAvgPool2d((None,3))': () => new AdaptiveAvgPool2d([null, 3]),
  'AdaptiveAvgPool2d((5,4))': () => new AdaptiveAvgPool2d([5, 4]),
  'AdaptiveAvgPool2d(2) unbatched': () => new AdaptiveAvgPool2d(2),
  'Upsample(scale_factor=2)': () => new Upsample({ scaleFactor: 2 }),
  'Upsample(size=(5,7))': () => new Upsample({ size: [5, 7] }),
  'Upsample(scale_factor=1.5)': () => new Upsample({ scaleFactor: 1.5 }),
  'Upsample(size=(2,3)) down': () => new Upsample({ size: [2, 3] }),
  'Upsample(scale_factor=2.5) 1-d': () => new Upsample({ scaleFactor: 2.5 }),
  'Upsample(size=(2,3,4)) 3-d': () => new Upsample({ size: [2, 3, 4] }),
  'Upsample(scale_factor=2,bilinear)': () => new Upsample({ scaleFactor: 2, mode: 'bilinear' }),
  'Upsample(size=(5,7),bilinear,align_corners)': () => new Upsample({ size: [5, 7], mode: 'bilinear', alignCorners: true }),
  'Upsample(size=(2,3),bilinear) down': () => new Upsample({ size: [2, 3], mode: 'bilinear' }),
  'Upsample(scale_factor=(0.6,1.7),bilinear)': () => new Upsample({ scaleFactor: [0.6, 1.7], mode: 'bilinear' }),
  'Upsample(scale_factor=1.7,linear)': () => new Upsample({ scaleFactor: 1.7, mode: 'linear' }),
  'Upsample(size=9,linear,align_corners)': () => new Upsample({ size: 9, mode: 'linear', alignCorners: true }),
  'Upsample(size=1,bilinear,align_corners)': () => new Upsample({ size: 1, mode: 'bilinear', alignCorners: true }),
};

describe('layers against PyTorch: its state dict loaded by name, output and every gradient', () => {
  it('every case in the fixture has a module here, and every module a case', () => {
    expect(ref.layers.map((c: { name: string }) => c.name).sort()).toEqual(Object.keys(LAYERS).sort());
  });
  for (const c of ref.layers) {
    it(c.name, () => {
      const m = LAYERS[c.name]!();
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state));
      m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v as Enc)])));
      const params = Object.fromEntries(m.namedParameters());
      const forward = c.outputSize ? (x: Tensor) => (m as ConvTranspose2d).call(x, c.outputSize) : (x: Tensor) => m.call(x);
      check(c.name, c, forward, params);
    });
  }
});

// PyTorch's Net in gen_i16-nn.py, written with tapegrad's containers
class Net extends Module {
  blocks = new ModuleList([0, 1, 2].map(() => new Linear(4, 4, O)));
  heads = new ModuleDict({ cls: new Linear(4, 2, O), regOut: new Linear(4, 2, O) });
  scales = new ParameterList([0, 1, 2].map(() => tensor(new Float64Array(4))));
  extra = new ParameterDict({ shift: tensor(new Float64Array(2)) });
  norm = new GroupNorm(2, 4, O);
  forward(x: Tensor): Tensor {
    [...this.blocks].forEach((block, i) => (x = block.call(x).tanh().mul(this.scales.at(i))));
    x = this.norm.call(x);
    return this.heads.get('cls').call(x).mul(this.heads.get('regOut').call(x)).add(this.extra.get('shift'));
  }
}

describe('containers against PyTorch', () => {
  it('ModuleList, ModuleDict (keys verbatim), ParameterList and ParameterDict give PyTorch\'s state-dict names, values and gradients', () => {
    const c = ref.containers;
    const m = new Net();
    expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state));
    expect(Object.keys(c.state)).toContain('heads.regOut.weight'); // a key, not a field: no snake_case
    m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, f64(v as Enc)])));
    const y = m.call(f64(c.input));
    expectClose(y, c.out, 'output');
    y.mul(f64(c.seed)).sum().backward();
    const params = Object.fromEntries(m.namedParameters());
    for (const [name, g] of Object.entries(c.grads)) expectClose(params[name]!.grad!, g as Enc, `gradient of ${name}`);
    expect(m.parameters().length).toBe(Object.keys(c.grads).length);
    expect(parameter).toBeTypeOf('function');
  });
});
