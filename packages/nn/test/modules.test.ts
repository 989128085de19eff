import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, TapegradError, manualSeed, memory, randn, tensor, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import {
  AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten, GELU, LayerNorm, Linear, LogSoftmax, MaxPool2d, Module, ReLU,
  Sequential, Sigmoid, Softmax, Tanh, init, parameter,
} from '../src/index.js';
import { ref } from './helpers.js';

class SmallCnn extends Module {
  features = new Sequential(new Conv2d(1, 8, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Conv2d(8, 16, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2));
  head = new Linear(16 * 7 * 7, 10);
  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x).flatten(1));
  }
}

// The same modules gen_nn.py builds in PyTorch, by the same names.
const modules: Record<string, () => Module> = {
  'Linear(784,128)': () => new Linear(784, 128),
  'Linear(5,3,bias=False)': () => new Linear(5, 3, { bias: false }),
  'Conv2d(3,8,3,stride=2,padding=1)': () => new Conv2d(3, 8, 3, { stride: 2, padding: 1 }),
  'Conv2d(4,6,(3,2),groups=2,bias=False)': () => new Conv2d(4, 6, [3, 2], { groups: 2, bias: false }),
  'MaxPool2d(2)': () => new MaxPool2d(2),
  'AvgPool2d(3,stride=2,padding=1)': () => new AvgPool2d(3, { stride: 2, padding: 1 }),
  'LayerNorm([4,5])': () => new LayerNorm([4, 5]),
  'BatchNorm1d(6)': () => new BatchNorm1d(6),
  'BatchNorm2d(3)': () => new BatchNorm2d(3),
  'Embedding(10,4)': () => new Embedding(10, 4),
  'Flatten()': () => new Flatten(),
  Mlp: () => new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10)),
  Cnn: () => new SmallCnn(),
};

describe('modules against PyTorch', () => {
  for (const [name, make] of Object.entries(modules)) {
    it(`${name}: output shape, parameter count and state dict keys/shapes`, () => {
      const r = ref.modules[name];
      const m = make();
      const x = name.startsWith('Embedding') ? tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'int32' }) : randn(r.inputShape);
      expect(m.forward(x).shape).toEqual(r.outputShape);
      expect(m.numParameters()).toBe(r.parameters);
      const sd = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
      expect(sd).toEqual(r.stateDict);
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(r.stateDict));
    });
  }
  it('activations and Softmax/LogSoftmax compute what their functions do', () => {
    const x = tensor([[-1, 0, 2]]);
    expect(Array.from(new ReLU().forward(x).dataSync())).toEqual([0, 0, 2]);
    expect(new Tanh().forward(x).dataSync()[2]).toBeCloseTo(Math.tanh(2), 6);
    expect(new Sigmoid().forward(x).dataSync()[0]).toBeCloseTo(1 / (1 + Math.E), 6);
    expect(new GELU().forward(x).dataSync()[2]).toBeCloseTo(1.9544997, 5);
    const sm = new Softmax(1).forward(x).dataSync();
    expect(sm[0]! + sm[1]! + sm[2]!).toBeCloseTo(1, 6);
    expect(new LogSoftmax(-1).forward(x).dataSync()[2]).toBeCloseTo(Math.log(sm[2]!), 5);
  });
});

describe('Module', () => {
  it('names parameters, buffers and children by dotted path', () => {
    const m = new Sequential(new Linear(3, 4), new BatchNorm1d(4), new Sequential(new ReLU(), new Linear(4, 2, { bias: false })));
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.1.weight']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect(m.namedChildren().map(([n]) => n)).toEqual(['0', '1', '2']);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', '0', '1', '2', '2.0', '2.1']);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.toString()).toContain('(0): Linear(inFeatures=3, outFeatures=4, bias=true)');
  });
  it('train() and eval() reach every submodule; Dropout and BatchNorm follow them', () => {
    const bn = new BatchNorm1d(2, { momentum: 0.5 });
    const m = new Sequential(bn, new Dropout(0.9, { generator: new Generator(0) }));
    m.eval();
    expect(m.modules().every((c) => !c.training)).toBe(true);
    const x = tensor([[1, 2], [3, 6]]);
    expect(Array.from(m.forward(x).dataSync()).map((v) => +v.toFixed(4))).toEqual([1, 2, 3, 6].map((v) => +(v / Math.sqrt(1 + 1e-5)).toFixed(4)));
    m.train();
    const y = m.forward(x).dataSync();
    expect(Array.from(y).some((v) => v === 0)).toBe(true);
    expect(Array.from(bn.runningMean!.dataSync())).toEqual([1, 2]);
    expect(bn.numBatchesTracked!.itemSync()).toBe(1);
  });
  it('zeroGrad drops gradients', () => {
    const m = new Linear(2, 1);
    m.forward(tensor([[1, 2]])).sum().backward();
    expect(m.weight.grad).not.toBeNull();
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });
  it('parameters created inside tidy survive it', () => {
    const m = tidy(() => new Linear(2, 2));
    expect(m.weight.isDisposed).toBe(false);
    expect(m.to('cpu')).toBe(m);
  });
  it('to() an unknown device throws, naming it, and moves nothing', () => {
    const m = new Linear(2, 2);
    const w = m.weight;
    expect(() => m.to('tpu')).toThrow("device 'tpu' is not available");
    expect([m.weight, w.device, w.isDisposed]).toEqual([w, 'cpu', false]);
  });
  it('stateDict round-trips into a fresh model', () => {
    manualSeed(1);
    const a = new Sequential(new Linear(4, 3), new BatchNorm1d(3));
    a.forward(randn([5, 4]));
    const b = new Sequential(new Linear(4, 3), new BatchNorm1d(3));
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [k, t] of Object.entries(a.stateDict())) expect(Array.from(b.stateDict()[k]!.dataSync())).toEqual(Array.from(t.dataSync()));
    a.eval();
    b.eval();
    const x = randn([2, 4]);
    expect(Array.from(b.forward(x).dataSync())).toEqual(Array.from(a.forward(x).dataSync()));
  });
  it('loadStateDict names missing, unexpected and mis-shaped keys, and writes nothing then', () => {
    const m = new Sequential(new Linear(2, 3));
    const before = Array.from(m.stateDict()['0.weight']!.dataSync());
    expect(() => m.loadStateDict({ '0.weight': zeros([3, 2]) })).toThrow(/missing keys: 0\.bias/);
    expect(() => m.loadStateDict({ '0.weight': zeros([3, 2]), '0.bias': zeros([3]), extra: zeros([1]) })).toThrow(/unexpected keys: extra/);
    expect(() => m.loadStateDict({ '0.weight': zeros([2, 3]), '0.bias': zeros([3]) })).toThrow(ShapeError);
    expect(() => m.loadStateDict({ '0.weight': zeros([2, 3]), '0.bias': zeros([3]) })).toThrow(/0\.weight: shape \[2, 3\] in the state dict, \[3, 2\] in the module/);
    expect(Array.from(m.stateDict()['0.weight']!.dataSync())).toEqual(before);
    expect(m.loadStateDict({ '0.bias': zeros([3]), extra: zeros([1]) }, { strict: false })).toEqual({ missingKeys: ['0.weight'], unexpectedKeys: ['extra'] });
    expect(Array.from(m.stateDict()['0.bias']!.dataSync())).toEqual([0, 0, 0]);
    expect(() => m.loadStateDict({})).toThrow(TapegradError);
  });
  it('a custom module registers parameter() fields', () => {
    class Scale extends Module {
      s = parameter(tensor([2]));
      forward(x: Tensor) {
        return x.mul(this.s);
      }
    }
    const m = new Scale();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['s']);
  });
  it('bad constructor arguments fail clearly', () => {
    expect(() => new Linear(0, 3)).toThrow(/Linear: inFeatures must be a positive integer; got 0/);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/Conv2d: groups=2 must be a positive integer dividing inChannels=3/);
    expect(() => new Dropout(2)).toThrow(/Dropout: p must be a probability/);
    expect(() => new BatchNorm2d(3).forward(randn([2, 3]))).toThrow(/BatchNorm2d: expected a 4-d input/);
    expect(() => new Embedding(3, 2, { paddingIdx: 3 })).toThrow(/paddingIdx 3 is out of range/);
  });
  it('a forward/backward loop in tidy keeps memory flat', () => {
    const m = new Sequential(new Conv2d(1, 2, 3), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(2 * 3 * 3, 2));
    const x = randn([2, 1, 8, 8]);
    const step = () => tidy(() => {
      m.zeroGrad();
      m.forward(x).sum().backward();
    });
    step();
    const before = memory().tensors;
    for (let i = 0; i < 5; i++) step();
    expect(memory().tensors).toBe(before);
  });
});

describe('init', () => {
  it('fills in place with the documented bounds and moments', () => {
    const w = zeros([200, 50]);
    init.kaimingUniform(w);
    const bound = Math.sqrt(3) * Math.SQRT2 / Math.sqrt(1 + 0.01 ** 2) / Math.sqrt(50);
    const v = Array.from(w.dataSync());
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(bound * 0.99);
    const std = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    expect(std(Array.from(init.kaimingNormal(zeros([400, 100]), { mode: 'fanOut', nonlinearity: 'relu' }).dataSync()))).toBeCloseTo(Math.sqrt(2 / 400), 2);
    expect(std(Array.from(init.xavierNormal(zeros([300, 100])).dataSync()))).toBeCloseTo(Math.sqrt(2 / 400), 2);
    const xa = Array.from(init.xavierUniform(zeros([30, 20]), { gain: 2 }).dataSync());
    expect(Math.max(...xa.map(Math.abs))).toBeLessThanOrEqual(2 * Math.sqrt(6 / 50));
    expect(Array.from(init.ones(zeros([2])).dataSync())).toEqual([1, 1]);
    expect(Array.from(init.zeros(tensor([3, 4])).dataSync())).toEqual([0, 0]);
    const u = Array.from(init.uniform(zeros([1000]), -2, -1).dataSync());
    expect(u.every((x) => x >= -2 && x < -1)).toBe(true);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3);
    expect(() => init.kaimingUniform(zeros([3]))).toThrow(/fewer than 2 dims/);
  });
  it('is reproducible under manualSeed and works on parameters that require grad', () => {
    manualSeed(42);
    const a = new Linear(3, 2).weight.dataSync();
    manualSeed(42);
    const b = new Linear(3, 2).weight.dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const p = parameter(zeros([2, 2]));
    init.normal(p, 5, 0);
    expect(Array.from(p.dataSync())).toEqual([5, 5, 5, 5]);
  });
});

describe('loss modules are Modules', () => {
  it('hold a class weight as a buffer in the stateDict, and compute their function', async () => {
    const { CrossEntropyLoss, MSELoss, functional } = await import('../src/index.js');
    const w = tensor([1, 2, 3]);
    const loss = new CrossEntropyLoss({ weight: w });
    expect(loss).toBeInstanceOf(Module);
    expect(Object.keys(loss.stateDict())).toEqual(['weight']);
    expect(loss.parameters()).toEqual([]);
    const x = tensor([[1, 2, 0.5], [0, 1, 3]]);
    const y = tensor([2, 1], { dtype: 'int32' });
    expect(loss.forward(x, y).itemSync()).toBeCloseTo(functional.crossEntropy(x, y, { weight: w }).itemSync(), 6);
    loss.loadStateDict({ weight: tensor([1, 1, 1]) });
    expect(loss.forward(x, y).itemSync()).toBeCloseTo(functional.crossEntropy(x, y).itemSync(), 6);
    expect(Object.keys(new MSELoss().stateDict())).toEqual([]);
    expect(typeof functional.conv2d).toBe('function');
  });
});
