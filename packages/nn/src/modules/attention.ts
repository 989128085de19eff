import { DTypeError, ShapeError, ValueError, add, fmt, mean, narrow, permute, reshape, squeeze, tidy, transpose, unsqueeze, zeros, type Generator, type Tensor } from '@tapegrad/tensor';
import { additiveMask, attend } from '../ops/attention.js';
import { linear } from '../ops/linear.js';
import { constant, xavierUniform } from '../init.js';
import { Module, parameter } from './module.js';
import { Linear, checkSize, type FactoryOptions } from './linear.js';

/** Options of {@link MultiheadAttention}. */
export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout probability on the attention weights in training mode (default 0). */
  dropout?: number;
  /** Learn the input and output projections' biases (default true). */
  bias?: boolean;
  /** Features of the keys (default embedDim). */
  kdim?: number;
  /** Features of the values (default embedDim). */
  vdim?: number;
  /** Inputs and output are [batch, seq, feature] instead of [seq, batch, feature] (default false). */
  batchFirst?: boolean;
  /** The generator of the dropout masks (default: the global one). */
  generator?: Generator;
}

/** Options of {@link MultiheadAttention.forward}. */
export interface MultiheadAttentionForwardOptions {
  /** [batch, S] ([S] unbatched): bool, true marking keys to ignore (padding), or float, added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights too (default true); false returns null in their place. */
  needWeights?: boolean;
  /**
   * [L, S] or [batch·numHeads, L, S] ([numHeads, L, S] unbatched): bool, true marking the pairs
   * that may not attend, or float, added to the scores.
   */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads ([batch, L, S]) rather than per head ([batch, numHeads, L, S]); default true. */
  averageAttnWeights?: boolean;
}

/**
 * Multi-head attention (torch.nn.MultiheadAttention): the query, key and value are projected,
 * split into numHeads heads of embedDim / numHeads features, attended with
 * softmax(q·kᵀ/√headDim + masks)·v per head, joined and projected by `outProj`.
 *
 * `forward(query, key, value, options?)` takes query [L, batch, embedDim], key [S, batch, kdim]
 * and value [S, batch, vdim] (batch first with batchFirst; without the batch dim unbatched) and
 * returns `[output, weights]`: output shaped as query, weights [batch, L, S] (averaged over the
 * heads) or [batch, numHeads, L, S], or null with `needWeights: false`. A query row whose keys
 * are all masked gives NaN, as in PyTorch.
 *
 * Parameters as PyTorch names them: `in_proj_weight` [3·embedDim, embedDim] (xavier uniform) when
 * kdim and vdim are embedDim, else `q_proj_weight`, `k_proj_weight`, `v_proj_weight`;
 * `in_proj_bias` [3·embedDim] (zeros); `out_proj.weight` and `out_proj.bias` (zeros).
 *
 * @example
 * ```ts
 * const mha = new nn.MultiheadAttention(16, 4, { batchFirst: true });
 * const x = tg.randn([2, 5, 16]);
 * const [y, w] = mha.call(x, x, x);  // [2, 5, 16], [2, 5, 5]
 * ```
 */
export class MultiheadAttention extends Module {
  /** Features of the queries and of the output. */
  readonly embedDim: number;
  /** Features of the keys. */
  readonly kdim: number;
  /** Features of the values. */
  readonly vdim: number;
  /** Heads. */
  readonly numHeads: number;
  /** embedDim / numHeads. */
  readonly headDim: number;
  /** Dropout probability on the attention weights. */
  readonly dropout: number;
  /** Whether inputs and output are [batch, seq, feature]. */
  readonly batchFirst: boolean;
  /** The generator of the dropout masks (undefined: the global one). */
  readonly generator: Generator | undefined;
  /** The packed query, key and value projections [3·embedDim, embedDim] (in_proj_weight); null when kdim or vdim differ. */
  inProjWeight: Tensor | null;
  /** The query projection [embedDim, embedDim] (q_proj_weight) when kdim or vdim differ from embedDim, else null. */
  qProjWeight: Tensor | null;
  /** The key projection [embedDim, kdim] (k_proj_weight) when kdim or vdim differ from embedDim, else null. */
  kProjWeight: Tensor | null;
  /** The value projection [embedDim, vdim] (v_proj_weight) when kdim or vdim differ from embedDim, else null. */
  vProjWeight: Tensor | null;
  /** The projections' biases [3·embedDim] (in_proj_bias); null without bias. */
  inProjBias: Tensor | null;
  /** The output projection (out_proj). */
  outProj: Linear;

  /**
   * @param embedDim - Features of the queries and the output (a positive integer, else a ValueError).
   * @param numHeads - Heads; must divide embedDim (else a ValueError).
   * @param options - dropout, bias, kdim, vdim, batchFirst, generator, dtype, device.
   */
  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    const cls = 'MultiheadAttention';
    this.embedDim = checkSize(cls, 'embedDim', embedDim);
    this.numHeads = checkSize(cls, 'numHeads', numHeads);
    this.kdim = checkSize(cls, 'kdim', options.kdim ?? embedDim);
    this.vdim = checkSize(cls, 'vdim', options.vdim ?? embedDim);
    if (embedDim % numHeads !== 0) throw new ValueError(`${cls}: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new ValueError(`${cls}: dropout must be a probability in [0, 1]; got ${this.dropout}`);
    this.batchFirst = options.batchFirst ?? false;
    this.generator = options.generator;
    const o = { dtype: options.dtype, device: options.device };
    const packed = this.kdim === embedDim && this.vdim === embedDim;
    const weight = (rows: number, cols: number) => parameter(xavierUniform(zeros([rows, cols], o)));
    this.inProjWeight = packed ? weight(3 * embedDim, embedDim) : null;
    this.qProjWeight = packed ? null : weight(embedDim, embedDim);
    this.kProjWeight = packed ? null : weight(embedDim, this.kdim);
    this.vProjWeight = packed ? null : weight(embedDim, this.vdim);
    const bias = options.bias ?? true;
    this.inProjBias = bias ? parameter(zeros([3 * embedDim], o)) : null;
    this.outProj = new Linear(embedDim, embedDim, { ...o, bias });
    if (this.outProj.bias) constant(this.outProj.bias, 0);
  }

  /** `[output, weights]`; shapes in the class description. Wrong shapes throw a ShapeError naming the expected one. */
  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const cls = 'MultiheadAttention';
    const { keyPaddingMask = null, attnMask = null, needWeights = true, averageAttnWeights = true } = options;
    const [E, Hn, hd] = [this.embedDim, this.numHeads, this.headDim];
    const batched = query.ndim === 3;
    const layout = batched ? (this.batchFirst ? '[batch, seq, ' : '[seq, batch, ') : '[seq, ';
    for (const [arg, t, dim] of [['query', query, E], ['key', key, this.kdim], ['value', value, this.vdim]] as const) {
      if (t.ndim !== (batched ? 3 : 2) || t.shape[t.ndim - 1] !== dim) {
        throw new ShapeError(`${cls}: expected ${arg} of shape ${layout}${dim}]${batched ? '' : ' (unbatched, as query)'}; got ${fmt(t.shape)}${arg === 'query' ? '' : ` (query ${fmt(query.shape)})`}`);
      }
      if (t.dtype !== this.outProj.weight.dtype) throw new DTypeError(`${cls}: ${arg} is ${t.dtype} but the parameters are ${this.outProj.weight.dtype} (convert one of them)`);
    }
    if (!key.shape.slice(0, -1).every((n, i) => n === value.shape[i])) {
      throw new ShapeError(`${cls}: key ${fmt(key.shape)} and value ${fmt(value.shape)} must agree in all but the last dim`);
    }
    return tidy(() => {
      // time-major, with a batch dim: [L, N, ·]
      const tm = (t: Tensor) => (!batched ? unsqueeze(t, 1) : this.batchFirst ? transpose(t, 0, 1) : t);
      const [qi, ki, vi] = [tm(query), tm(key), tm(value)];
      const [L, N, S] = [qi.shape[0]!, qi.shape[1]!, ki.shape[0]!];
      if (ki.shape[1] !== N) throw new ShapeError(`${cls}: key ${fmt(key.shape)} must have query's batch size ${N} (query ${fmt(query.shape)})`);
      const bias = this.masks(keyPaddingMask, attnMask, batched, N, L, S, query.dtype);
      const b = (i: number) => (this.inProjBias ? narrow(this.inProjBias, 0, i * E, E) : null);
      let q: Tensor, k: Tensor, v: Tensor;
      if (this.inProjWeight && query === key && key === value) {
        // self-attention: one product for the three projections, as PyTorch's packed path
        const qkv = linear(qi, this.inProjWeight, this.inProjBias);
        [q, k, v] = [0, 1, 2].map((i) => narrow(qkv, 2, i * E, E)) as [Tensor, Tensor, Tensor];
      } else {
        const w = (i: number) => (this.inProjWeight ? narrow(this.inProjWeight, 0, i * E, E) : [this.qProjWeight, this.kProjWeight, this.vProjWeight][i]!);
        [q, k, v] = [linear(qi, w(0), b(0)), linear(ki, w(1), b(1)), linear(vi, w(2), b(2))];
      }
      // [len, N, E] -> [N, heads, len, headDim], views the products read strided
      const heads = (t: Tensor) => permute(reshape(t, [t.shape[0]!, N, Hn, hd]), [1, 2, 0, 3]);
      const [out, weights] = attend(heads(q), heads(k), heads(v), bias, 1 / Math.sqrt(hd), this.training ? this.dropout : 0, this.generator);
      const joined = reshape(permute(out, [2, 0, 1, 3]), [L, N, E]);
      let y = this.outProj.forward(joined);
      y = !batched ? squeeze(y, 1) : this.batchFirst ? transpose(y, 0, 1) : y;
      if (!needWeights) return [y, null];
      let w = averageAttnWeights ? mean(weights, 1) : weights;
      if (!batched) w = squeeze(w, 0);
      return [y, w];
    });
  }

  // The masks as one additive bias broadcastable to [N, heads, L, S], or null.
  private masks(keyPadding: Tensor | null, attn: Tensor | null, batched: boolean, N: number, L: number, S: number, dtype: Tensor['dtype']): Tensor | null {
    const cls = 'MultiheadAttention';
    let bias: Tensor | null = null;
    if (attn) {
      const heads = batched ? N * this.numHeads : this.numHeads;
      if (!((attn.ndim === 2 && attn.shape[0] === L && attn.shape[1] === S) || (attn.ndim === 3 && attn.shape[0] === heads && attn.shape[1] === L && attn.shape[2] === S))) {
        throw new ShapeError(`${cls}: attnMask must have shape [${L}, ${S}] or [${heads}, ${L}, ${S}] (${batched ? 'batch·numHeads' : 'numHeads'}, L, S); got ${fmt(attn.shape)}`);
      }
      const m = additiveMask(cls, 'attnMask', attn, true, dtype);
      bias = m.ndim === 3 ? reshape(m, [batched ? N : 1, this.numHeads, L, S]) : m;
    }
    if (keyPadding) {
      const expected = batched ? [N, S] : [S];
      if (keyPadding.ndim !== expected.length || keyPadding.shape.some((n, i) => n !== expected[i])) {
        throw new ShapeError(`${cls}: keyPaddingMask must have shape ${fmt(expected)} (${batched ? 'batch, ' : ''}S); got ${fmt(keyPadding.shape)}`);
      }
      const m = reshape(additiveMask(cls, 'keyPaddingMask', keyPadding, true, dtype), [batched ? N : 1, 1, 1, S]);
      bias = bias ? add(bias, m) : m;
    }
    return bias;
  }

  protected override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}${this.dropout ? `, dropout=${this.dropout}` : ''}${this.batchFirst ? ', batchFirst=true' : ''}`;
  }
}
