import {
  DTypeError, ShapeError, ValueError, add, cat, fmt, mul, relu, reshape, sigmoid, split, squeeze, stack, sub, tanh, tidy, unbind,
  unsqueeze, warn, zeros, type Generator, type Tensor,
} from '@tapegrad/tensor';
import { dropout } from '../ops/dropout.js';
import { linear } from '../ops/linear.js';
import { uniform } from '../init.js';
import { Module, parameter } from './module.js';
import { checkSize, type FactoryOptions } from './linear.js';

// Recurrent layers as torch.nn.RNN/LSTM/GRU compute them, written with tensor ops. Per layer and
// direction the input projections of all time steps are one product, x·W_ihᵀ + b, and the
// recurrence then adds h·W_hhᵀ step by step. Everything stays in rows ([batch, features]), in
// the input's own layout: a step is a block of the projection (rows spaced apart when batch
// first), the gates are taken apart by `split` and made contiguous by their activations, so the
// elementwise ops between them take the backends' contiguous (or row) paths, and no transposed
// copy is ever made. Steps and gates come apart with `unbind` and `split`, one node each whose
// backward is one stack or cat: with `narrow`, each step would cost a zero-filled gradient of the
// whole projection in the backward pass, and a sum of them all (quadratic in the length).

/** Which recurrence a layer runs: torch's `mode` names. */
type Mode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';
/** Gates per mode: the row blocks of W_ih and W_hh, in torch's order. */
const GATES: Record<Mode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

/**
 * One step: `gx` is the step's input projection (x·W_ihᵀ + b_ih, and b_hh where the mode allows),
 * [batch, gates·H] or [gates·H]; `state` is [h] or [h, c]; `recur(h)` is h·W_hhᵀ (+ b_hh where gx
 * lacks it). Returns the new state. Shared by the layers and the cells.
 */
type Step = (gx: Tensor, state: readonly Tensor[], recur: (h: Tensor) => Tensor) => Tensor[];

const rnnStep = (act: (x: Tensor) => Tensor): Step => (gx, [h], recur) => [act(add(gx, recur(h!)))];

// gates i, f, g, o: c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c')
const lstmStep: Step = (gx, [h, c], recur) => {
  const [i, f, g, o] = split(add(gx, recur(h!)), h!.shape[h!.ndim - 1]!, -1) as [Tensor, Tensor, Tensor, Tensor];
  const c2 = add(mul(sigmoid(f), c!), mul(sigmoid(i), tanh(g)));
  return [mul(sigmoid(o), tanh(c2)), c2];
};

// gates r, z, n: n = tanh(x_n + σ(r)·(h·W_hnᵀ + b_hn)), h' = (1 − σ(z))·n + σ(z)·h, as n + σ(z)·(h − n)
const gruStep: Step = (gx, [h], recur) => {
  const H = h!.shape[h!.ndim - 1]!;
  const [xr, xz, xn] = split(gx, H, -1) as [Tensor, Tensor, Tensor];
  const [hr, hz, hn] = split(recur(h!), H, -1) as [Tensor, Tensor, Tensor];
  const n = tanh(add(xn, mul(sigmoid(add(xr, hr)), hn)));
  return [add(n, mul(sigmoid(add(xz, hz)), sub(h!, n)))];
};

const STEPS: Record<Mode, Step> = { RNN_TANH: rnnStep(tanh), RNN_RELU: rnnStep(relu), LSTM: lstmStep, GRU: gruStep };

function checkInput(cls: string, x: Tensor, weight: Tensor, ranks: readonly number[], expected: string): void {
  if (!ranks.includes(x.ndim)) throw new ShapeError(`${cls}: expected input of shape ${expected}; got ${fmt(x.shape)}`);
  if (x.dtype !== weight.dtype) throw new DTypeError(`${cls}: input is ${x.dtype} but the parameters are ${weight.dtype} (convert one of them)`);
}
function checkState(cls: string, arg: string, t: Tensor, x: Tensor, shape: readonly number[], what: string): void {
  if (t.ndim !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new ShapeError(`${cls}: ${arg} must have shape ${fmt(shape)} (${what}); got ${fmt(t.shape)}`);
  }
  if (t.dtype !== x.dtype) throw new DTypeError(`${cls}: ${arg} is ${t.dtype} but the input is ${x.dtype}`);
}

/** Options of {@link RNN}, {@link LSTM} and {@link GRU}. */
export interface RNNBaseOptions extends FactoryOptions {
  /** Stacked layers, each fed the previous one's output (default 1). */
  numLayers?: number;
  /** Learn the biases b_ih and b_hh (default true). */
  bias?: boolean;
  /** Input and output are [batch, seq, feature] instead of [seq, batch, feature] (default false); states are not affected. */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training mode (default 0). */
  dropout?: number;
  /** Run a second recurrence over the reversed sequence and concatenate the two outputs (default false). */
  bidirectional?: boolean;
  /** The generator the dropout masks are drawn from (default: the global one). */
  generator?: Generator;
}
/** Options of {@link RNN}. */
export interface RNNOptions extends RNNBaseOptions {
  /** h' = tanh(...) or relu(...) (default 'tanh'). */
  nonlinearity?: 'tanh' | 'relu';
}

/**
 * What the recurrent layers share (torch.nn.RNNBase): the parameters, named as PyTorch names
 * them so that a PyTorch state dict loads (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
 * `bias_hh_l0`, then `..._reverse` for the backward direction, then layer 1...), each initialised
 * from U(−1/√hiddenSize, 1/√hiddenSize), and the loop over layers, directions and time steps.
 */
export abstract class RNNBase extends Module {
  /** Features of each input step. */
  readonly inputSize: number;
  /** Features of the hidden state. */
  readonly hiddenSize: number;
  /** Stacked layers. */
  readonly numLayers: number;
  /** Whether the layers have biases. */
  readonly bias: boolean;
  /** Whether input and output are [batch, seq, feature]. */
  readonly batchFirst: boolean;
  /** Dropout probability between layers. */
  readonly dropout: number;
  /** Whether each layer also runs over the reversed sequence. */
  readonly bidirectional: boolean;
  /** The generator of the dropout masks (undefined: the global one). */
  readonly generator: Generator | undefined;
  private readonly mode: Mode;

  /** @internal */
  protected constructor(mode: Mode, inputSize: number, hiddenSize: number, options: RNNBaseOptions) {
    super();
    const cls = new.target.name;
    this.mode = mode;
    this.inputSize = checkSize(cls, 'inputSize', inputSize);
    this.hiddenSize = checkSize(cls, 'hiddenSize', hiddenSize);
    this.numLayers = checkSize(cls, 'numLayers', options.numLayers ?? 1);
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = options.dropout ?? 0;
    this.bidirectional = options.bidirectional ?? false;
    this.generator = options.generator;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new ValueError(`${cls}: dropout must be a probability in [0, 1]; got ${this.dropout}`);
    if (this.dropout > 0 && this.numLayers === 1) {
      warn(`${cls}: dropout ${this.dropout} has no effect with numLayers 1: it applies between layers, after all but the last (as in PyTorch)`);
    }
    const o = { dtype: options.dtype, device: options.device };
    const gates = GATES[mode] * hiddenSize, bound = 1 / Math.sqrt(hiddenSize);
    const init = (shape: number[]) => parameter(uniform(zeros(shape, o), -bound, bound));
    const fields = this as unknown as Record<string, Tensor>;
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = suffix(l, d);
        fields[`weight_ih${sfx}`] = init([gates, l === 0 ? inputSize : hiddenSize * this.numDirections]);
        fields[`weight_hh${sfx}`] = init([gates, hiddenSize]);
        if (this.bias) {
          fields[`bias_ih${sfx}`] = init([gates]);
          fields[`bias_hh${sfx}`] = init([gates]);
        }
      }
    }
  }

  /** 2 when bidirectional, else 1. */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }
  /**
   * The parameters of each layer and direction (layer 0, layer 0 reverse, layer 1, ...): W_ih,
   * W_hh and, with bias, b_ih and b_hh, as torch's `all_weights`.
   */
  get allWeights(): Tensor[][] {
    const fields = this as unknown as Record<string, Tensor>;
    const out: Tensor[][] = [];
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = suffix(l, d);
        out.push(['weight_ih', 'weight_hh', ...(this.bias ? ['bias_ih', 'bias_hh'] : [])].map((k) => fields[`${k}${sfx}`]!));
      }
    }
    return out;
  }

  /**
   * Run the layers over `input` from the initial states `given` (each [numLayers·numDirections,
   * B, H] or, unbatched, without B; null for zeros): the last layer's output and the final states.
   */
  protected runLayers(input: Tensor, given: readonly (Tensor | null)[], names: readonly string[]): [Tensor, Tensor[]] {
    const cls = this.constructor.name;
    const F = this.inputSize, H = this.hiddenSize, D = this.numDirections, LD = this.numLayers * D;
    const fields = this as unknown as Record<string, Tensor | undefined>;
    checkInput(cls, input, fields.weight_ih_l0!, [2, 3], this.batchFirst ? `[batch, seq, ${F}] (or [seq, ${F}] unbatched)` : `[seq, batch, ${F}] (or [seq, ${F}] unbatched)`);
    if (input.shape[input.ndim - 1] !== F) {
      throw new ShapeError(`${cls}: input must have ${F} (inputSize) features in its last dim; got shape ${fmt(input.shape)}`);
    }
    const batched = input.ndim === 3;
    // unbatched input is a batch of 1 (torch ignores batchFirst for it); time is dim `td` of x
    const x = batched ? input : unsqueeze(input, 1);
    const td = batched && this.batchFirst ? 1 : 0;
    const [T, B] = [x.shape[td]!, x.shape[1 - td]!];
    if (T === 0) throw new ShapeError(`${cls}: the input sequence is empty (shape ${fmt(input.shape)})`);
    const starts = given.map((s, k) => {
      if (!s) return Array.from({ length: LD }, () => zeros([B, H], { dtype: x.dtype, device: x.device }));
      checkState(cls, names[k]!, s, x, batched ? [LD, B, H] : [LD, H], `numLayers * numDirections, ${batched ? 'batch, ' : ''}hiddenSize`);
      return unbind(batched ? s : unsqueeze(s, 1), 0);
    });
    const step = STEPS[this.mode];
    const finals: Tensor[][] = given.map(() => []);
    let layerIn = reshape(x, [T * B, F]); // a view where x is contiguous, batch first or not
    let out: Tensor;
    for (let l = 0; ; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const sfx = suffix(l, d);
        const wHh = fields[`weight_hh${sfx}`]!, bIh = fields[`bias_ih${sfx}`] ?? null, bHh = fields[`bias_hh${sfx}`] ?? null;
        // b_hh joins b_ih in the projection, except GRU's, which its n gate needs inside r·(h·W_hnᵀ + b_hn)
        const fold = this.mode !== 'GRU' && bIh && bHh;
        const proj = linear(layerIn, fields[`weight_ih${sfx}`]!, fold ? add(bIh, bHh) : bIh);
        const gx = unbind(reshape(proj, [x.shape[0]!, x.shape[1]!, -1]), td);
        const recur = (h: Tensor) => linear(h, wHh, fold ? null : bHh);
        let state: Tensor[] = starts.map((s) => s[l * D + d]!);
        const hs = new Array<Tensor>(T);
        for (let k = 0; k < T; k++) {
          const t = d === 0 ? k : T - 1 - k;
          state = step(gx[t]!, state, recur);
          hs[t] = state[0]!;
        }
        outs.push(stack(hs, td));
        state.forEach((s, i) => finals[i]!.push(s));
      }
      out = outs.length === 1 ? outs[0]! : cat(outs, 2); // [T, B, D·H], or [B, T, D·H]
      if (l === this.numLayers - 1) break;
      if (this.dropout > 0 && this.training) out = dropout(out, { p: this.dropout, generator: this.generator });
      layerIn = reshape(out, [T * B, D * H]);
    }
    const states = finals.map((f) => stack(f, 0));
    if (!batched) return [squeeze(out, 1), states.map((s) => squeeze(s, 1))];
    return [out, states];
  }

  protected override extraRepr(): string {
    const extra = [
      this.numLayers !== 1 && `numLayers=${this.numLayers}`, !this.bias && 'bias=false', this.batchFirst && 'batchFirst=true',
      this.dropout !== 0 && `dropout=${this.dropout}`, this.bidirectional && 'bidirectional=true',
    ].filter(Boolean);
    return [`${this.inputSize}, ${this.hiddenSize}`, ...extra].join(', ');
  }
}
const suffix = (layer: number, direction: number) => `_l${layer}${direction ? '_reverse' : ''}`;

/**
 * An Elman RNN (torch.nn.RNN): h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh), or relu.
 * `forward(input, h0?)` takes input [seq, batch, inputSize] ([batch, seq, inputSize] with
 * batchFirst; [seq, inputSize] unbatched) and h0 [numLayers·numDirections, batch, hiddenSize]
 * (default zeros), and returns `[output, hN]`: output [seq, batch, numDirections·hiddenSize] (the
 * last layer's h_t for every t; batch first with batchFirst), hN the final state of each layer
 * and direction, shaped as h0.
 *
 * @example
 * ```ts
 * const rnn = new nn.RNN(10, 20, { numLayers: 2 });
 * const [output, hN] = rnn.call(tg.randn([5, 3, 10]));  // [5, 3, 20], [2, 3, 20]
 * ```
 */
export class RNN extends RNNBase {
  /** 'tanh' or 'relu'. */
  readonly nonlinearity: 'tanh' | 'relu';
  /**
   * @param inputSize - Features of each input step (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden state (a positive integer, else a ValueError).
   * @param options - numLayers, nonlinearity, bias, batchFirst, dropout, bidirectional, generator, dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const nonlinearity = options.nonlinearity ?? 'tanh';
    if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new ValueError(`RNN: nonlinearity must be 'tanh' or 'relu'; got ${String(nonlinearity)}`);
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, options);
    this.nonlinearity = nonlinearity;
  }
  /** `[output, hN]` for `input` from `h0` (default zeros); shapes in the class description. Wrong shapes throw a ShapeError naming the expected one. */
  forward(input: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    return tidy(() => {
      const [out, [h]] = this.runLayers(input, [h0 ?? null], ['h0']);
      return [out, h!];
    });
  }
}

/**
 * A long short-term memory layer (torch.nn.LSTM), gates in torch's order i, f, g, o:
 * c_t = σ(f)·c_{t−1} + σ(i)·tanh(g), h_t = σ(o)·tanh(c_t). `forward(input, [h0, c0]?)` returns
 * `[output, [hN, cN]]`; shapes as {@link RNN}, with c0 and cN shaped as h0.
 *
 * @example
 * ```ts
 * const lstm = new nn.LSTM(10, 20, { batchFirst: true, bidirectional: true });
 * const [output, [hN, cN]] = lstm.call(tg.randn([3, 5, 10]));  // [3, 5, 40], [2, 3, 20] twice
 * ```
 */
export class LSTM extends RNNBase {
  /**
   * @param inputSize - Features of each input step (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden and cell states (a positive integer, else a ValueError).
   * @param options - numLayers, bias, batchFirst, dropout, bidirectional, generator, dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('LSTM', inputSize, hiddenSize, options);
  }
  /** `[output, [hN, cN]]` for `input` from `[h0, c0]` (default zeros); wrong shapes throw a ShapeError naming the expected one. */
  forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    return tidy(() => {
      const [out, [h, c]] = this.runLayers(input, [hx?.[0] ?? null, hx?.[1] ?? null], ['h0', 'c0']);
      return [out, [h!, c!]];
    });
  }
}

/**
 * A gated recurrent unit layer (torch.nn.GRU), gates in torch's order r, z, n:
 * n_t = tanh(x·W_inᵀ + b_in + σ(r)·(h_{t−1}·W_hnᵀ + b_hn)), h_t = (1 − σ(z))·n_t + σ(z)·h_{t−1}.
 * `forward(input, h0?)` returns `[output, hN]`; shapes as {@link RNN}.
 *
 * @example
 * ```ts
 * const gru = new nn.GRU(10, 20);
 * const [output, hN] = gru.call(tg.randn([5, 3, 10]));  // [5, 3, 20], [1, 3, 20]
 * ```
 */
export class GRU extends RNNBase {
  /**
   * @param inputSize - Features of each input step (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden state (a positive integer, else a ValueError).
   * @param options - numLayers, bias, batchFirst, dropout, bidirectional, generator, dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('GRU', inputSize, hiddenSize, options);
  }
  /** `[output, hN]` for `input` from `h0` (default zeros); wrong shapes throw a ShapeError naming the expected one. */
  forward(input: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    return tidy(() => {
      const [out, [h]] = this.runLayers(input, [h0 ?? null], ['h0']);
      return [out, h!];
    });
  }
}

/** Options of {@link RNNCell}, {@link LSTMCell} and {@link GRUCell}. */
export interface RNNCellOptions extends FactoryOptions {
  /** Learn the biases b_ih and b_hh (default true). */
  bias?: boolean;
}

/**
 * What the cells share (torch.nn.RNNCellBase): parameters weight_ih [gates·H, inputSize],
 * weight_hh [gates·H, H], bias_ih and bias_hh [gates·H], from U(−1/√H, 1/√H), and one step.
 */
export abstract class RNNCellBase extends Module {
  /** The input-to-hidden weights W_ih (stateDict name weight_ih). */
  weightIh: Tensor;
  /** The hidden-to-hidden weights W_hh (weight_hh). */
  weightHh: Tensor;
  /** The input-to-hidden bias b_ih (bias_ih); null without bias. */
  biasIh: Tensor | null;
  /** The hidden-to-hidden bias b_hh (bias_hh); null without bias. */
  biasHh: Tensor | null;
  private readonly mode: Mode;

  /** @internal */
  protected constructor(mode: Mode, readonly inputSize: number, readonly hiddenSize: number, options: RNNCellOptions) {
    super();
    const cls = new.target.name;
    this.mode = mode;
    checkSize(cls, 'inputSize', inputSize);
    checkSize(cls, 'hiddenSize', hiddenSize);
    const o = { dtype: options.dtype, device: options.device };
    const gates = GATES[mode] * hiddenSize, bound = 1 / Math.sqrt(hiddenSize);
    const init = (shape: number[]) => parameter(uniform(zeros(shape, o), -bound, bound));
    this.weightIh = init([gates, inputSize]);
    this.weightHh = init([gates, hiddenSize]);
    const bias = options.bias ?? true;
    this.biasIh = bias ? init([gates]) : null;
    this.biasHh = bias ? init([gates]) : null;
  }

  /** One step from `states` (each [B, H], or [H] for an unbatched [inputSize] input; null for zeros). */
  protected step(input: Tensor, states: readonly (Tensor | null)[], names: readonly string[]): Tensor[] {
    const cls = this.constructor.name;
    checkInput(cls, input, this.weightIh, [1, 2], `[batch, ${this.inputSize}] (or [${this.inputSize}] unbatched)`);
    if (input.shape[input.ndim - 1] !== this.inputSize) {
      throw new ShapeError(`${cls}: input must have ${this.inputSize} (inputSize) features in its last dim; got shape ${fmt(input.shape)}`);
    }
    const shape = input.ndim === 2 ? [input.shape[0]!, this.hiddenSize] : [this.hiddenSize];
    const state = states.map((s, k) => {
      if (!s) return zeros(shape, { dtype: input.dtype, device: input.device });
      checkState(cls, names[k]!, s, input, shape, input.ndim === 2 ? 'batch, hiddenSize' : 'hiddenSize, for an unbatched input');
      return s;
    });
    return STEPS[this.mode](linear(input, this.weightIh, this.biasIh), state, (h) => linear(h, this.weightHh, this.biasHh));
  }
  protected override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.biasIh ? '' : ', bias=false'}`;
  }
}

/**
 * One step of an Elman RNN (torch.nn.RNNCell): h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), or
 * relu. `forward(input, hx?)`: input [batch, inputSize] or [inputSize], hx [batch, hiddenSize]
 * or [hiddenSize] (default zeros); returns h' shaped as hx.
 */
export class RNNCell extends RNNCellBase {
  /** 'tanh' or 'relu'. */
  readonly nonlinearity: 'tanh' | 'relu';
  /**
   * @param inputSize - Features of the input (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden state (a positive integer, else a ValueError).
   * @param options - bias, nonlinearity ('tanh' or 'relu'), dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions & { nonlinearity?: 'tanh' | 'relu' } = {}) {
    const nonlinearity = options.nonlinearity ?? 'tanh';
    if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new ValueError(`RNNCell: nonlinearity must be 'tanh' or 'relu'; got ${String(nonlinearity)}`);
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, options);
    this.nonlinearity = nonlinearity;
  }
  /** h' for `input` from `hx` (default zeros). */
  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return tidy(() => this.step(input, [hx ?? null], ['hx'])[0]!);
  }
}

/**
 * One LSTM step (torch.nn.LSTMCell), gates i, f, g, o. `forward(input, [h, c]?)` returns
 * `[h', c']`; shapes as {@link RNNCell}.
 */
export class LSTMCell extends RNNCellBase {
  /**
   * @param inputSize - Features of the input (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden and cell states (a positive integer, else a ValueError).
   * @param options - bias, dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super('LSTM', inputSize, hiddenSize, options);
  }
  /** `[h', c']` for `input` from `[h, c]` (default zeros). */
  forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, Tensor] {
    return tidy(() => {
      const [h, c] = this.step(input, [hx?.[0] ?? null, hx?.[1] ?? null], ['h', 'c']);
      return [h!, c!];
    });
  }
}

/** One GRU step (torch.nn.GRUCell), gates r, z, n. `forward(input, hx?)` returns h'; shapes as {@link RNNCell}. */
export class GRUCell extends RNNCellBase {
  /**
   * @param inputSize - Features of the input (a positive integer, else a ValueError).
   * @param hiddenSize - Features of the hidden state (a positive integer, else a ValueError).
   * @param options - bias, dtype, device.
   */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super('GRU', inputSize, hiddenSize, options);
  }
  /** h' for `input` from `hx` (default zeros). */
  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return tidy(() => this.step(input, [hx ?? null], ['hx'])[0]!);
  }
}
