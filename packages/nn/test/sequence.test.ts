// Sequence models against PyTorch: the recurrent layers and cells, MultiheadAttention,
// scaledDotProductAttention and the transformer layers and stacks. Each case loads PyTorch's state
// dict with loadStateDict (strict, so the parameter names must be PyTorch's), runs the same
// inputs in float64 and compares every output, then backpropagates sum(output · seed) and
// compares the gradient of every input and every parameter (fixtures/gen_i16-seq.py).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DTypeError, ShapeError, ValueError, Generator, add, memory, tensor, tidy, randn, manualSeed, setWarningHandler, type Tensor } from '@tapegrad/tensor';
import { gradcheck } from '@tapegrad/autograd';
import * as nn from '../src/index.js';
import './helpers.js';

interface Enc { shape: number[]; dtype: 'float64' | 'bool'; data: (number | string)[] }
interface Case {
  name: string;
  cls?: string;
  args?: [number, number];
  options?: Record<string, unknown>;
  call?: Record<string, unknown>;
  numLayers?: number;
  state?: Record<string, Enc>;
  inputs: Record<string, Enc>;
  outputs: Record<string, Enc>;
  seeds: Record<string, Enc>;
  grads: Record<string, Enc>;
}
const ref = JSON.parse(readFileSync(new URL('./fixtures/i16-seq.json', import.meta.url), 'utf8')) as Record<'rnn' | 'cells' | 'mha' | 'sdpa' | 'transformer', Case[]>;

const load = (e: Enc): Tensor =>
  e.dtype === 'bool'
    ? tensor(e.data.map((v) => v === 1), { shape: e.shape, dtype: 'bool' })
    : tensor(Float64Array.from(e.data, Number), { shape: e.shape, dtype: 'float64' });
// PyTorch's option names, snake_case, as tapegrad's camelCase
const camel = (o: Record<string, unknown> = {}) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));

function expectClose(what: string, t: Tensor | null | undefined, e: Enc, tol = 1e-9): void {
  expect(t, what).toBeTruthy();
  expect(t!.shape, `${what} shape`).toEqual(e.shape);
  const got = t!.dataSync();
  e.data.forEach((v, i) => {
    const want = Number(v);
    const err = Math.abs(got[i]! - want) / (1 + Math.abs(want));
    if (!(err <= tol)) expect.fail(`${what}: element ${i} is ${got[i]}, PyTorch has ${want}`);
  });
}

/** Load the case's state, run it, compare outputs, backpropagate the seeds and compare every gradient. */

function check(c: Case, module: nn.Module | null, run: (inputs: Record<string, Tensor>) => Record<string, Tensor | null | undefined>): void {
  if (module) module.loadStateDict(Object.fromEntries(Object.entries(c.state!).map(([k, e]) => [k, load(e)])));
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, e]) => {
    const t = load(e);
    return [k, e.dtype === 'float64' && !k.includes('Mask') ? t.requiresGrad_() : t];
  }));
  const outputs = run(inputs);
  expect(Object.keys(outputs).filter((k) => outputs[k]).sort()).toEqual(Object.keys(c.outputs).sort());
  let loss: Tensor | null = null;
  for (const [k, e] of Object.entries(c.outputs)) {
    expectClose(`${c.name} ${k}`, outputs[k], e);
    const term = outputs[k]!.mul(load(c.seeds[k]!)).sum();
    loss = loss ? add(loss, term) : term;
  }
  loss!.backward();
  const params = new Map(module?.namedParameters() ?? []);
  // every parameter PyTorch has a gradient for, and no other
  expect([...params.keys()].sort()).toEqual(Object.keys(c.grads).filter((k) => !(k in inputs)).sort());
  for (const [k, e] of Object.entries(c.grads)) expectClose(`${c.name} grad of ${k}`, (inputs[k] ?? params.get(k))!.grad, e);
}

const f64 = { dtype: 'float64' as const };

describe('recurrent layers against PyTorch', () => {
  const classes = { RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU };
  for (const c of ref.rnn) {
    it(`${c.cls} ${c.name}: output, final states, gradients of input, states and parameters`, () => {
      const m = new classes[c.cls as keyof typeof classes](c.args![0], c.args![1], { ...camel(c.options), ...f64 });
      check(c, m, ({ input, h0, c0 }) => {
        if (m instanceof nn.LSTM) {
          const [output, [hN, cN]] = m.forward(input!, h0 ? [h0, c0!] : null);
          return { output, hN, cN };
        }
        const [output, hN] = (m as nn.RNN).forward(input!, h0);
        return { output, hN };
      });
    });
  }
});

describe('recurrent cells against PyTorch', () => {
  const classes = { RNNCell: nn.RNNCell, LSTMCell: nn.LSTMCell, GRUCell: nn.GRUCell };
  for (const c of ref.cells) {
    it(`${c.cls} ${c.name}`, () => {
      const m = new classes[c.cls as keyof typeof classes](c.args![0], c.args![1], { ...camel(c.options), ...f64 });
      check(c, m, ({ input, h, c: cell }) => {
        if (m instanceof nn.LSTMCell) {
          const [h2, c2] = m.forward(input!, h ? [h, cell!] : null);
          return { h: h2, c: c2 };
        }
        return { h: (m as nn.RNNCell).forward(input!, h) };
      });
    });
  }
});

describe('MultiheadAttention against PyTorch', () => {
  for (const c of ref.mha) {
    it(c.name, () => {
      const m = new nn.MultiheadAttention(c.args![0], c.args![1], { ...camel(c.options), ...f64 });
      check(c, m, (i) => {
        const [output, weights] = i.x
          ? m.forward(i.x, i.x, i.x)
          : m.forward(i.query!, i.key!, i.value!, { attnMask: i.attnMask, keyPaddingMask: i.keyPaddingMask, ...c.call });
        return { output, weights };
      });
    });
  }
});

describe("scaledDotProductAttention against torch 2's reference formula", () => {
  for (const c of ref.sdpa) {
    it(c.name, () => {
      check(c, null, (i) => ({ output: nn.functional.scaledDotProductAttention(i.query!, i.key!, i.value!, { attnMask: i.attnMask, ...c.options }) }));
    });
  }
});

describe('transformer layers against PyTorch', () => {
  for (const c of ref.transformer) {
    it(`${c.cls} ${c.name}`, () => {
      const o = { ...camel(c.options), dropout: 0, ...f64 } as nn.TransformerLayerOptions;
      const [d, h] = c.args!;
      let m: nn.Module;
      if (c.cls === 'TransformerEncoderLayer') m = new nn.TransformerEncoderLayer(d, h, o);
      else if (c.cls === 'TransformerDecoderLayer') m = new nn.TransformerDecoderLayer(d, h, o);
      else if (c.cls === 'TransformerEncoder') m = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(d, h, o), c.numLayers!, { norm: new nn.LayerNorm(d, f64) });
      else m = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(d, h, o), c.numLayers!);
      check(c, m, (i) => {
        if (m instanceof nn.TransformerEncoderLayer || m instanceof nn.TransformerEncoder) {
          return { output: m.forward(i.src!, { srcMask: i.srcMask, srcKeyPaddingMask: i.srcKeyPaddingMask }) };
        }
        const dec = m as nn.TransformerDecoderLayer;
        return { output: dec.forward(i.tgt!, i.memory!, { tgtMask: i.tgtMask, memoryMask: i.memoryMask, tgtKeyPaddingMask: i.tgtKeyPaddingMask, memoryKeyPaddingMask: i.memoryKeyPaddingMask }) };
      });
    });
  }
});

describe('recurrent layers: gradcheck, names, initialisation, dropout, errors', () => {
  // small float64 models: the split/unbind node's cat/stack backward and every step's rules, by
  // finite differences; a test per model, as each gradcheck takes seconds (one test of all four
  // ran past the 60 s timeout on a loaded 2-core CI machine)
  const opts = { numLayers: 2, bidirectional: true, ...f64 };
  const inputs = () => {
    manualSeed(3);
    const x = randn([2, 2, 2], f64).requiresGrad_();
    const h0 = randn([4, 2, 3], f64).requiresGrad_();
    const c0 = randn([4, 2, 3], f64).requiresGrad_();
    return { x, h0, c0 };
  };
  it('LSTM (2 layers, bidirectional) passes gradcheck through input, initial states and every parameter', () => {
    const { x, h0, c0 } = inputs();
    const lstm = new nn.LSTM(2, 3, opts);
    expect(gradcheck((x, h, c) => lstm.forward(x!, [h!, c!]).flat(), [x, h0, c0, ...lstm.parameters()])).toBe(true);
  });
  it('GRU (2 layers, bidirectional, batchFirst) passes gradcheck through input, initial state and every parameter', () => {
    const { h0 } = inputs();
    const gru = new nn.GRU(2, 3, { ...opts, batchFirst: true });
    const xb = randn([2, 3, 2], f64).requiresGrad_(); // batch 2, 3 steps
    expect(gradcheck((x, h) => gru.forward(x!, h).flat(), [xb, h0, ...gru.parameters()])).toBe(true);
  });
  it('RNN (relu) and LSTMCell pass gradcheck through input, states and every parameter', () => {
    const { x } = inputs();
    const rnn = new nn.RNN(2, 3, { nonlinearity: 'relu', ...f64 });
    expect(gradcheck((x) => rnn.forward(x!).flat(), [x, ...rnn.parameters()])).toBe(true);
    const cell = new nn.LSTMCell(2, 3, f64);
    expect(gradcheck((x, h, c) => cell.forward(x!, [h!, c!]), [randn([2, 2], f64).requiresGrad_(), randn([2, 3], f64).requiresGrad_(), randn([2, 3], f64).requiresGrad_(), ...cell.parameters()])).toBe(true);
  });

  it("names parameters as PyTorch, in PyTorch's order, and initialises them from U(-1/√H, 1/√H)", () => {
    const lstm = new nn.LSTM(4, 25, { numLayers: 2, bidirectional: true, bias: true });
    const names = lstm.namedParameters().map(([n]) => n);
    const layer = (l: number, s: string) => ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((k) => `${k}_l${l}${s}`);
    expect(names).toEqual([...layer(0, ''), ...layer(0, '_reverse'), ...layer(1, ''), ...layer(1, '_reverse')]);
    expect(lstm.stateDict()['weight_ih_l1']!.shape).toEqual([100, 50]); // layer 1 reads both directions
    expect(lstm.allWeights.map((w) => w.length)).toEqual([4, 4, 4, 4]);
    const values = lstm.parameters().flatMap((p) => Array.from(p.dataSync()));
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.2);
    expect(Math.max(...values)).toBeGreaterThan(0.19); // uniform over the whole range, not a narrower one
    expect(new nn.GRU(3, 5, { bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight_ih_l0', 'weight_hh_l0']);
    expect(new nn.GRUCell(3, 5).namedParameters().map(([n, t]) => `${n} ${t.shape}`)).toEqual(['weight_ih 15,3', 'weight_hh 15,5', 'bias_ih 15', 'bias_hh 15']);
    expect(lstm.toString()).toBe('LSTM(4, 25, numLayers=2, bidirectional=true)');
  });

  // two relu layers wired as identities (W_ih = I, W_hh = 0, no bias) on a positive input: the
  // output is dropout(x) between the layers and nothing after the last one
  const identityRnn = (p: number, generator?: Generator) => {
    const rnn = new nn.RNN(8, 8, { numLayers: 2, nonlinearity: 'relu', bias: false, dropout: p, generator });
    const eye = tensor(Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 1 : 0)), { shape: [8, 8] });
    rnn.loadStateDict({ weight_ih_l0: eye, weight_hh_l0: eye.mul(0), weight_ih_l1: eye, weight_hh_l1: eye.mul(0) });
    return rnn;
  };
  it('dropout applies between layers only, zeroes about p of the outputs and scales the rest by 1/(1-p), from the generator', () => {
    const x = randn([50, 25, 8]).abs().add(0.1);
    const out = identityRnn(0.4, new Generator(1)).forward(x)[0].dataSync();
    const xs = x.dataSync();
    let dropped = 0;
    out.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).toBeCloseTo(xs[i]! / 0.6, 5);
    });
    expect(Math.abs(dropped / out.length - 0.4)).toBeLessThan(0.03); // 10,000 draws: 6 standard deviations
    const again = identityRnn(0.4, new Generator(1)).forward(x)[0].dataSync();
    expect(Array.from(again)).toEqual(Array.from(out));
    expect(Array.from(identityRnn(0.4, new Generator(2)).forward(x)[0].dataSync())).not.toEqual(Array.from(out));
    // eval mode, and p = 0 in training mode, are the layers without dropout
    expect(Array.from(identityRnn(0.4).eval().forward(x)[0].dataSync())).toEqual(Array.from(xs));
    expect(Array.from(identityRnn(0).forward(x)[0].dataSync())).toEqual(Array.from(xs));
  });

  it('dropout on a single layer warns that it does nothing, as PyTorch', () => {
    const warnings: string[] = [];
    const previous = setWarningHandler((m) => warnings.push(m));
    try {
      void new nn.GRU(3, 4, { dropout: 0.3 });
    } finally {
      setWarningHandler(previous);
    }
    expect(warnings.join('\n')).toMatch(/GRU: dropout 0.3 has no effect with numLayers 1/);
  });

  it('bad shapes and arguments throw, naming what was expected', () => {
    const lstm = new nn.LSTM(10, 20, { numLayers: 2 });
    const x = randn([5, 3, 10]);
    expect(() => lstm.forward(randn([5, 3, 7]))).toThrow(ShapeError);
    expect(() => lstm.forward(randn([5, 3, 7]))).toThrow(/LSTM: input must have 10 \(inputSize\) features in its last dim; got shape \[5, 3, 7\]/);
    expect(() => lstm.forward(randn([2, 5, 3, 10]))).toThrow(/LSTM: expected input of shape \[seq, batch, 10\] \(or \[seq, 10\] unbatched\); got \[2, 5, 3, 10\]/);
    expect(() => lstm.forward(x, [randn([1, 3, 20]), randn([2, 3, 20])])).toThrow(/LSTM: h0 must have shape \[2, 3, 20\] \(numLayers \* numDirections, batch, hiddenSize\); got \[1, 3, 20\]/);
    expect(() => lstm.forward(x, [randn([2, 3, 20]), randn([2, 4, 20])])).toThrow(/LSTM: c0 must have shape \[2, 3, 20\]/);
    expect(() => lstm.forward(randn([5, 10]), [randn([2, 1, 20]), randn([2, 1, 20])])).toThrow(/h0 must have shape \[2, 20\] \(numLayers \* numDirections, hiddenSize\)/);
    expect(() => new nn.GRU(10, 20, { batchFirst: true }).forward(randn([5, 3]))).toThrow(/GRU: input must have 10 \(inputSize\)/);
    expect(() => new nn.RNN(2, 3).forward(randn([0, 1, 2]))).toThrow(/RNN: the input sequence is empty/);
    expect(() => new nn.RNN(2, 3).forward(tensor([[[1, 2]]], { dtype: 'int32' }))).toThrow(/RNN: input is int32 but the parameters are float32/);
    expect(() => lstm.forward(x.cast('float64'))).toThrow(DTypeError);
    expect(() => lstm.forward(x, [randn([2, 3, 20], f64), randn([2, 3, 20])])).toThrow(/LSTM: h0 is float64 but the input is float32/);
    expect(() => new nn.GRUCell(4, 3, f64).forward(randn([2, 4]))).toThrow(/GRUCell: input is float32 but the parameters are float64/);
    expect(() => new nn.LSTMCell(4, 3).forward(randn([2, 4]), [randn([2, 3]), randn([3, 3])])).toThrow(/LSTMCell: c must have shape \[2, 3\] \(batch, hiddenSize\); got \[3, 3\]/);
    expect(() => new nn.GRUCell(4, 3).forward(randn([2, 5]))).toThrow(/GRUCell: input must have 4 \(inputSize\) features/);
    expect(() => new nn.RNNCell(4, 3).forward(randn([2, 2, 4]))).toThrow(/RNNCell: expected input of shape \[batch, 4\] \(or \[4\] unbatched\)/);
    expect(() => new nn.RNN(2, 3, { nonlinearity: 'sigmoid' as 'tanh' })).toThrow(ValueError);
    expect(() => new nn.LSTM(2, 3, { dropout: 1.5 })).toThrow(/LSTM: dropout must be a probability in \[0, 1\]; got 1.5/);
    expect(() => new nn.GRU(2, 3, { numLayers: 0 })).toThrow(/GRU: numLayers must be a positive integer; got 0/);
    expect(() => new nn.LSTM(0, 3)).toThrow(/LSTM: inputSize must be a positive integer/);
  });
});

describe('attention: initialisation, dropout, masks, errors', () => {
  it("MultiheadAttention's parameters: PyTorch's names, xavier-uniform projections, zero biases", () => {
    const m = new nn.MultiheadAttention(16, 4);
    expect(m.namedParameters().map(([n, t]) => `${n} ${t.shape}`)).toEqual(['in_proj_weight 48,16', 'in_proj_bias 48', 'out_proj.weight 16,16', 'out_proj.bias 16']);
    const w = Array.from(m.inProjWeight!.dataSync());
    const bound = Math.sqrt(6 / (16 + 48));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w)).toBeGreaterThan(0.9 * bound);
    expect([...m.inProjBias!.dataSync(), ...m.outProj.bias!.dataSync()].every((v) => v === 0)).toBe(true);
    const kv = new nn.MultiheadAttention(8, 2, { kdim: 3, vdim: 5, bias: false });
    expect(kv.namedParameters().map(([n, t]) => `${n} ${t.shape}`)).toEqual(['q_proj_weight 8,8', 'k_proj_weight 8,3', 'v_proj_weight 8,5', 'out_proj.weight 8,8']);
  });

  it('MultiheadAttention dropout: the returned weights are the eval weights with about p zeroed and the rest scaled, from the generator', () => {
    manualSeed(4);
    const make = (p: number, seed: number) => {
      const m = new nn.MultiheadAttention(8, 2, { dropout: p, generator: new Generator(seed) });
      m.loadStateDict(reference.stateDict());
      return m;
    };
    const reference = new nn.MultiheadAttention(8, 2);
    const x = randn([40, 10, 8]);
    const opts = { averageAttnWeights: false };
    const evalW = reference.eval().forward(x, x, x, opts)[1]!.dataSync();
    const [, wTrain] = make(0.3, 1).forward(x, x, x, opts);
    let dropped = 0;
    wTrain!.dataSync().forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).toBeCloseTo(evalW[i]! / 0.7, 6);
    });
    expect(Math.abs(dropped / evalW.length - 0.3)).toBeLessThan(0.015); // 32,000 draws: 6 standard deviations
    expect(Array.from(make(0.3, 1).forward(x, x, x, opts)[0].dataSync())).toEqual(Array.from(make(0.3, 1).forward(x, x, x, opts)[0].dataSync()));
    expect(Array.from(make(0, 1).forward(x, x, x, opts)[0].dataSync())).toEqual(Array.from(reference.forward(x, x, x, opts)[0].dataSync()));
  });

  it('scaledDotProductAttention dropout: with an identity value the output is the weights, dropped and scaled', () => {
    manualSeed(6);
    const [L, S] = [300, 40];
    const q = randn([L, 8]), k = randn([S, 8]);
    const eye = tensor(Array.from({ length: S * S }, (_, i) => (i % (S + 1) === 0 ? 1 : 0)), { shape: [S, S] });
    const plain = nn.functional.scaledDotProductAttention(q, k, eye).dataSync();
    const dropped = nn.functional.scaledDotProductAttention(q, k, eye, { dropoutP: 0.25, generator: new Generator(3) }).dataSync();
    let zeros = 0;
    dropped.forEach((v, i) => {
      if (v === 0) zeros++;
      else expect(v).toBeCloseTo(plain[i]! / 0.75, 6);
    });
    expect(Math.abs(zeros / plain.length - 0.25)).toBeLessThan(0.015);
    const again = nn.functional.scaledDotProductAttention(q, k, eye, { dropoutP: 0.25, generator: new Generator(3) }).dataSync();
    expect(Array.from(again)).toEqual(Array.from(dropped));
  });

  it('isCausal is the float mask of generateSquareSubsequentMask and the bool mask of a lower triangle', () => {
    manualSeed(8);
    const [q, k, v] = [randn([2, 5, 4]), randn([2, 5, 4]), randn([2, 5, 3])];
    const causal = nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true }).dataSync();
    const float = nn.functional.scaledDotProductAttention(q, k, v, { attnMask: nn.generateSquareSubsequentMask(5) }).dataSync();
    const lower = tensor(Array.from({ length: 25 }, (_, i) => i % 5 <= Math.floor(i / 5)), { shape: [5, 5] });
    const bool = nn.functional.scaledDotProductAttention(q, k, v, { attnMask: lower }).dataSync();
    expect(Array.from(float)).toEqual(Array.from(causal));
    expect(Array.from(bool)).toEqual(Array.from(causal));
    // the first query sees only the first key
    expect(Array.from(causal.slice(0, 3))).toEqual(Array.from(v.dataSync().slice(0, 3)));
  });

  it('bad shapes and arguments throw, naming what was expected', () => {
    const m = new nn.MultiheadAttention(8, 2);
    const x = randn([4, 3, 8]);
    expect(() => new nn.MultiheadAttention(10, 3)).toThrow(/MultiheadAttention: embedDim 10 must be divisible by numHeads 3/);
    expect(() => new nn.MultiheadAttention(8, 2, { dropout: -0.1 })).toThrow(ValueError);
    expect(() => m.forward(randn([4, 3, 6]), x, x)).toThrow(/MultiheadAttention: expected query of shape \[seq, batch, 8\]; got \[4, 3, 6\]/);
    expect(() => m.forward(x, randn([4, 3, 8]), randn([5, 3, 8]))).toThrow(/key \[4, 3, 8\] and value \[5, 3, 8\] must agree in all but the last dim/);
    expect(() => m.forward(x, randn([5, 2, 8]), randn([5, 2, 8]))).toThrow(/key \[5, 2, 8\] must have query's batch size 3/);
    expect(() => m.forward(x, x, x, { attnMask: randn([4, 5]) })).toThrow(/attnMask must have shape \[4, 4\] or \[6, 4, 4\] \(batch·numHeads, L, S\); got \[4, 5\]/);
    expect(() => m.forward(x, x, x, { keyPaddingMask: randn([4, 3]) })).toThrow(/keyPaddingMask must have shape \[3, 4\] \(batch, S\); got \[4, 3\]/);
    expect(() => m.forward(x, x, x, { attnMask: tensor([[1, 2, 3, 4]], { dtype: 'int32' }).expand(4, 4) })).toThrow(DTypeError);
    expect(() => m.forward(x.cast('float64'), x, x)).toThrow(/MultiheadAttention: query is float64 but the parameters are float32/);
    const sdpa = nn.functional.scaledDotProductAttention;
    const [q, k] = [randn([2, 3, 4]), randn([2, 5, 4])];
    expect(() => sdpa(q, randn([2, 5, 3]), k)).toThrow(/scaledDotProductAttention: key must end in query's feature size 4/);
    expect(() => sdpa(q, k, randn([2, 4, 4]))).toThrow(/value must have key's sequence length 5 in dim -2/);
    expect(() => sdpa(q, k, k, { attnMask: randn([3, 4]) })).toThrow(/attnMask \[3, 4\] does not broadcast to \[\.\.\., 3, 5\]/);
    expect(() => sdpa(q, k, k, { attnMask: randn([3, 5]), isCausal: true })).toThrow(/either attnMask or isCausal, not both/);
    expect(() => sdpa(q, k, k, { dropoutP: 2 })).toThrow(ValueError);
    expect(() => sdpa(randn([4]), k, k)).toThrow(ShapeError);
  });
});

describe('transformer layers: names, copies, dropout, errors', () => {
  it("have PyTorch's submodule names, and the stack's copies start from the given layer's parameters", () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    expect(layer.namedParameters().map(([n]) => n)).toEqual([
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
    ]);
    expect(new nn.TransformerDecoderLayer(8, 2).namedChildren().map(([n]) => n)).toEqual([
      'selfAttn', 'multiheadAttn', 'linear1', 'dropout', 'linear2', 'norm1', 'norm2', 'norm3', 'dropout1', 'dropout2', 'dropout3',
    ]);
    const stack = new nn.TransformerEncoder(layer, 3);
    expect(stack.stateDict()['layers.2.linear2.bias']).toBeTruthy();
    const first = Array.from(layer.linear1.weight.dataSync());
    for (const i of [0, 1, 2]) expect(Array.from(stack.stateDict()[`layers.${i}.linear1.weight`]!.dataSync())).toEqual(first);
    // copies, not the same tensors
    expect(stack.parameters().length).toBe(3 * layer.parameters().length);
  });

  it('dropout: p = 0 in training mode is eval mode, p > 0 is seeded by the generator', () => {
    manualSeed(2);
    const base = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    const x = randn([5, 3, 8]);
    const evalOut = Array.from(base.eval().forward(x).dataSync());
    expect(Array.from(base.train().forward(x).dataSync())).toEqual(evalOut);
    const noisy = (seed: number) => {
      const m = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.5, generator: new Generator(seed) });
      m.loadStateDict(base.stateDict());
      return Array.from(m.forward(x).dataSync());
    };
    expect(noisy(1)).toEqual(noisy(1));
    expect(noisy(1)).not.toEqual(noisy(2));
    expect(noisy(1)).not.toEqual(evalOut);
  });

  it('bad arguments throw', () => {
    expect(() => new nn.TransformerEncoderLayer(8, 3)).toThrow(/embedDim 8 must be divisible by numHeads 3/);
    expect(() => new nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' as 'relu' })).toThrow(/TransformerEncoderLayer: activation must be 'relu', 'gelu' or a function; got tanh/);
    expect(() => new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 0 })).toThrow(/dimFeedforward must be a positive integer/);
    expect(() => new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2), 0)).toThrow(/TransformerEncoder: numLayers must be a positive integer; got 0/);
    expect(() => new nn.TransformerEncoderLayer(8, 2).forward(randn([5, 3, 7]))).toThrow(/expected query of shape \[seq, batch, 8\]/);
  });
});

describe('memory', () => {
  it('training steps in tidy leave nothing behind: the steps, the split nodes and the masks are freed', () => {
    manualSeed(1);
    const lstm = new nn.LSTM(4, 5, { numLayers: 2, bidirectional: true, dropout: 0.2 });
    const gru = new nn.GRUCell(4, 5);
    const enc = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 });
    const x = randn([6, 3, 4]);
    const mask = nn.generateSquareSubsequentMask(6);
    const step = () => {
      tidy(() => {
        const [out, [h, c]] = lstm.forward(x, [randn([4, 3, 5]), randn([4, 3, 5])]);
        const g = gru.forward(x.narrow(0, 0, 1).squeeze(0));
        const y = enc.forward(x, { srcMask: mask, srcKeyPaddingMask: tensor([[false, false, true, false, false, false]]).expand(3, 6) });
        out.sum().add(h.sum()).add(c.sum()).add(g.sum()).add(y.sum()).backward();
      });
      for (const m of [lstm, gru, enc]) m.zeroGrad();
    };
    step();
    const before = memory().tensors;
    step();
    step();
    expect(memory().tensors).toBe(before);
  });
});
