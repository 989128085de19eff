// Issue 16's Module habits: containers (ModuleList, ModuleDict, ParameterList, ParameterDict),
// the error for modules, parameters or buffers held in plain arrays and objects (silently
// dropped before), model.call(x), and what console.log / util.inspect print.
import './helpers.js';
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IndexError, TapegradError, ValueError, ones, tensor, zeros, type Tensor } from '@tapegrad/tensor';
import {
  BatchNorm1d, Linear, Module, ModuleDict, ModuleList, ParameterDict, ParameterList, ReLU, Sequential, buffer, optim, parameter,
} from '../src/index.js';

const names = (m: Module) => m.namedParameters().map(([n]) => n);

describe('a module never silently drops what a plain container holds', () => {
  it("the issue's reproduction: two Linear layers in an array field (4 tensors) are an error, not 0 parameters", () => {
    class Blocks extends Module {
      layers = [new Linear(2, 2), new Linear(2, 2)];
      forward(x: Tensor): Tensor {
        return this.layers.reduce((h, l) => l.forward(h), x);
      }
    }
    const m = new Blocks();
    expect(() => m.parameters()).toThrow(TapegradError);
    expect(() => m.parameters()).toThrow(
      "Blocks: field 'layers' holds modules in an array (layers[0] is a Linear, layers[1] is a Linear), which a Module does not look into: " +
        'they would be missing from parameters(), stateDict() and to(). Hold modules in a ModuleList (for an array) or a ModuleDict (for an object), ' +
        'parameters in a ParameterList or a ParameterDict, and each buffer in a field of its own; keep references to modules registered elsewhere in a #private field or a getter.',
    );
    // every way of listing what a module registers throws, so none answers with a model missing layers
    for (const f of [() => m.stateDict(), () => m.namedModules(), () => m.children(), () => m.to('cpu'), () => m.train(), () => m.toString(), () => m.zeroGrad()]) {
      expect(f).toThrow(/field 'layers' holds modules in an array/);
    }
  });
  it('objects, nested containers, Maps and Sets, parameters and buffers, in a submodule too', () => {
    const cases: [string, () => unknown, RegExp][] = [
      ['object', () => ({ enc: new Linear(2, 2) }), /field 'f' holds modules in a plain object \(f\.enc is a Linear\)/],
      ['nested', () => ({ stages: [[new ReLU()], [new ReLU(), { head: new Linear(1, 1) }]] }),
        /field 'f' holds modules in a plain object \(f\.stages\[0\]\[0\] is a ReLU, f\.stages\[1\]\[0\] is a ReLU, f\.stages\[1\]\[1\]\.head is a Linear\)/],
      ['Map', () => new Map([['a', new Linear(1, 1)]]), /field 'f' holds modules in a Map \(f\.get\("a"\) is a Linear\)/],
      ['Set', () => new Set([new Linear(1, 1)]), /field 'f' holds modules in a Set \(f \(a Set\) is a Linear\)/],
      ['parameters', () => [parameter(zeros([2])), parameter(ones([3]))], /field 'f' holds parameters in an array \(f\[0\] is a parameter, f\[1\] is a parameter\)/],
      ['a buffer', () => ({ stats: buffer(zeros([2])) }), /field 'f' holds buffers in a plain object \(f\.stats is a buffer\)/],
      ['many', () => Array.from({ length: 5 }, () => new ReLU()), /\(f\[0\] is a ReLU, f\[1\] is a ReLU, f\[2\] is a ReLU, and 2 more\)/],
    ];
    for (const [what, make, message] of cases) {
      class Holder extends Module {
        f = make();
        forward(x: Tensor): Tensor {
          return x;
        }
      }
      expect(() => new Holder().parameters(), what).toThrow(message);
      // a model holding such a module as a child fails too, naming the child's class
      expect(() => new Sequential(new Holder()).parameters(), what).toThrow(/^Holder: field 'f'/);
    }
  });
  it('references to what the module registers anyway are fine; plain data is never a problem', () => {
    class Net extends Module {
      a = new Linear(2, 3);
      b = new Sequential(new Linear(3, 1));
      all = [this.a, this.b]; // a list of its own children, for convenience
      decay = { weights: [this.a.weight, this.b.at(0)!.parameters()[0]] }; // parameters of its subtree
      kernelSize = [3, 3];
      config = { name: 'net', sizes: [1, 2], nested: { ok: true }, at: new Map([['x', 1]]) };
      cache: Tensor[] = [ones([2])]; // tensors that are not parameters or buffers
      #other = [new Linear(1, 1)]; // private fields are not fields a module looks at
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x)).add(this.#other.length);
      }
    }
    expect(names(new Net())).toEqual(['a.weight', 'a.bias', 'b.0.weight', 'b.0.bias']);
  });
});

describe('ModuleList', () => {
  it('registers its modules as 0, 1, ... and renumbers them as it changes', () => {
    const list = new ModuleList([new Linear(2, 2), new ReLU()]);
    expect(list.length).toBe(2);
    list.append(new Linear(2, 3)).insert(0, new BatchNorm1d(2));
    expect(list.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`)).toEqual([':ModuleList', '0:BatchNorm1d', '1:Linear', '2:ReLU', '3:Linear']);
    expect(names(list)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias']);
    expect(Object.keys(list.stateDict())).toContain('0.running_mean');
    expect(list.at(-1)).toBeInstanceOf(Linear);
    expect(list.pop(1)).toBeInstanceOf(Linear);
    expect([...list].map((m) => m.constructor.name)).toEqual(['BatchNorm1d', 'ReLU', 'Linear']);
    list.set(1, new Linear(2, 2));
    expect(names(list)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    list.extend([new ReLU()]);
    expect(list.toString()).toBe('ModuleList(\n  (0): BatchNorm1d(2, eps=0.00001, momentum=0.1)\n  (1): Linear(inFeatures=2, outFeatures=2, bias=true)\n  (2): Linear(inFeatures=2, outFeatures=3, bias=true)\n  (3): ReLU()\n)');
  });
  it('in a model: parameters, train/eval, an optimizer step and state-dict round trip reach every block', () => {
    class Net extends Module {
      blocks = new ModuleList([new Linear(3, 3), new Linear(3, 3)]);
      forward(x: Tensor): Tensor {
        for (const b of this.blocks) x = b.forward(x).tanh();
        return x;
      }
    }
    const m = new Net();
    expect(names(m)).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias']);
    m.eval();
    expect([...m.blocks].every((b) => !b.training)).toBe(true);
    const before = m.blocks.at(1).weight.dataSync().slice();
    const opt = new optim.SGD(m.parameters(), { lr: 0.1 });
    m.call(ones([2, 3])).sum().backward();
    opt.step();
    expect(Array.from(m.blocks.at(1).weight.dataSync())).not.toEqual(Array.from(before));
    const copy = new Net();
    copy.loadStateDict(m.stateDict());
    expect(Array.from(copy.call(ones([1, 3])).dataSync())).toEqual(Array.from(m.call(ones([1, 3])).dataSync()));
  });
  it('refuses what is not a module, indices out of range, and forward', () => {
    expect(() => new ModuleList([tensor([1]) as unknown as Module])).toThrow(ValueError);
    expect(() => new ModuleList([tensor([1]) as unknown as Module])).toThrow(/^ModuleList: an item must be a Module; got Tensor/);
    expect(() => new ModuleList().at(0)).toThrow(IndexError);
    expect(() => new ModuleList([new ReLU()]).at(-2)).toThrow(/^ModuleList: index -2 is out of range for 1 item\(s\)/);
    expect(() => new ModuleList([new ReLU()]).insert(2, new ReLU())).toThrow(/^ModuleList: index 2 is out of range/);
    expect(() => new ModuleList([new ReLU()]).forward()).toThrow(/^ModuleList: a ModuleList has no forward; iterate over it/);
  });
});

describe('ModuleDict', () => {
  it('registers its modules under their keys verbatim, in insertion order', () => {
    const d = new ModuleDict({ encoderOut: new Linear(2, 2), '2nd': new ReLU() });
    d.set('head', new Linear(2, 1)).set('encoderOut', new Linear(2, 4));
    expect([...d.keys()]).toEqual(['encoderOut', '2nd', 'head']);
    expect(names(d)).toEqual(['encoderOut.weight', 'encoderOut.bias', 'head.weight', 'head.bias']);
    expect((d.get('encoderOut') as Linear).outFeatures).toBe(4);
    expect([d.has('head'), d.has('tail'), d.size]).toEqual([true, false, 3]);
    expect([...d].map(([k]) => k)).toEqual(['encoderOut', '2nd', 'head']);
    expect(d.pop('2nd')).toBeInstanceOf(ReLU);
    expect([...d.values()].length).toBe(2);
    d.update([['x', new ReLU()]]);
    expect([...d.entries()].map(([k]) => k)).toEqual(['encoderOut', 'head', 'x']);
    d.clear();
    expect(d.parameters()).toEqual([]);
  });
  it('refuses keys with a dot, missing keys, values that are not modules', () => {
    expect(() => new ModuleDict({ 'a.b': new ReLU() })).toThrow(/^ModuleDict: a key must be a non-empty string without '\.' \(it becomes part of state-dict names\); got "a\.b"/);
    expect(() => new ModuleDict({ a: new ReLU() }).get('b')).toThrow(/^ModuleDict: no module under key "b"; the keys are \["a"\]/);
    expect(() => new ModuleDict({ a: 3 as unknown as Module })).toThrow(/^ModuleDict: the value of "a" must be a Module; got number/);
  });
});

describe('ParameterList and ParameterDict', () => {
  it('make tensors parameters (a parameter keeps its requiresGrad) and name them as PyTorch', () => {
    const frozen = parameter(zeros([2]), false);
    const list = new ParameterList([ones([3]), frozen]);
    expect(list.namedParameters().map(([n, t]) => [n, t.requiresGrad])).toEqual([['0', true], ['1', false]]);
    expect(list.at(1)).toBe(frozen);
    list.append(ones([1]));
    expect([list.length, [...list].length]).toEqual([3, 3]);
    const dict = new ParameterDict({ scale: ones([2]) });
    dict.set('shiftBy', zeros([2]));
    expect(names(dict)).toEqual(['scale', 'shiftBy']);
    expect(dict.get('scale').requiresGrad).toBe(true);
    expect(() => list.append([1, 2] as unknown as Tensor)).toThrow(/^ParameterList: an item must be a Tensor; got Array/);
    expect(() => dict.get('nope')).toThrow(/^ParameterDict: no parameter under key "nope"; the keys are \["scale","shiftBy"\]/);
    expect(list.toString()).toBe('ParameterList((0): Parameter(float32 [3]), (1): Parameter(float32 [2]), (2): Parameter(float32 [1]))');
  });
});

describe('model.call(x)', () => {
  class Masked extends Module {
    lin = new Linear(2, 2);
    forward(x: Tensor, mask?: Tensor): Tensor {
      const y = this.lin.forward(x);
      return mask ? y.mul(mask) : y;
    }
  }
  it("runs forward with forward's arguments and result type", () => {
    const m = new Masked();
    const x = ones([1, 2]);
    expect(Array.from(m.call(x).dataSync())).toEqual(Array.from(m.forward(x).dataSync()));
    const mask = tensor([[0, 1]]);
    expect(Array.from(m.call(x, mask).dataSync())).toEqual(Array.from(m.forward(x, mask).dataSync()));
    expect(m.call(x, mask).dataSync()[0]).toBeCloseTo(0);
    // @ts-expect-error: call is typed as forward, so a wrong argument is a compile error
    expect(() => m.call('x')).toThrow();
  });
});

describe('console.log and util.inspect', () => {
  it('print a tensor as toString() does, and a module as its summary', () => {
    const t = tensor([[1, 2.5], [-3, 4]]);
    expect(inspect(t)).toBe(t.toString());
    expect(format('%s and %o', 'x', t)).toBe(`x and ${t.toString()}`);
    expect(inspect({ loss: tensor(0.25) })).toBe('{ loss: tensor(0.2500) }');
    const m = new Sequential(new Linear(2, 1));
    expect(inspect(m)).toBe(m.toString());
  });
});
