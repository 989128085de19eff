import { ValueError, add, relu, tidy, type Generator, type Tensor, type DType, type Device } from '@tapegrad/tensor';
import { gelu } from '../ops/activation.js';
import { causalMask } from '../ops/attention.js';
import { Module } from './module.js';
import { Linear, checkSize, type FactoryOptions } from './linear.js';
import { Dropout } from './dropout.js';
import { LayerNorm } from './norm.js';
import { MultiheadAttention } from './attention.js';
import { ModuleList } from './container.js';

/** Options of {@link TransformerEncoderLayer} and {@link TransformerDecoderLayer}. */
export interface TransformerLayerOptions extends FactoryOptions {
  /** Features of the feed-forward block's hidden layer (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability after attention, inside and after the feed-forward block (default 0.1). */
  dropout?: number;
  /** The feed-forward block's activation: 'relu' (default), 'gelu' or a function. */
  activation?: 'relu' | 'gelu' | ((x: Tensor) => Tensor);
  /** The layer norms' eps (default 1e-5). */
  layerNormEps?: number;
  /** Inputs and output are [batch, seq, feature] instead of [seq, batch, feature] (default false). */
  batchFirst?: boolean;
  /** Normalise before each block (pre-norm) instead of after its residual sum (default false). */
  normFirst?: boolean;
  /** The generator of the dropout masks (default: the global one). */
  generator?: Generator;
}

/** Masks of {@link TransformerEncoderLayer.forward} and {@link TransformerEncoder.forward}. */
export interface TransformerEncoderMasks {
  /** The self-attention's attnMask (see {@link MultiheadAttentionForwardOptions}). */
  srcMask?: Tensor | null;
  /** The self-attention's keyPaddingMask. */
  srcKeyPaddingMask?: Tensor | null;
}
/** Masks of {@link TransformerDecoderLayer.forward} and {@link TransformerDecoder.forward}. */
export interface TransformerDecoderMasks {
  /** The self-attention's attnMask, usually {@link generateSquareSubsequentMask}. */
  tgtMask?: Tensor | null;
  /** The attention over the memory's attnMask. */
  memoryMask?: Tensor | null;
  /** The self-attention's keyPaddingMask. */
  tgtKeyPaddingMask?: Tensor | null;
  /** The attention over the memory's keyPaddingMask. */
  memoryKeyPaddingMask?: Tensor | null;
}

function activationOf(cls: string, a: TransformerLayerOptions['activation'] = 'relu'): (x: Tensor) => Tensor {
  if (typeof a === 'function') return a;
  if (a === 'relu') return relu;
  if (a === 'gelu') return (x) => gelu(x);
  throw new ValueError(`${cls}: activation must be 'relu', 'gelu' or a function; got ${String(a)}`);
}

/**
 * A float [size, size] mask with −∞ above the diagonal and 0 elsewhere: position i attends to
 * positions 0..i (torch's `nn.Transformer.generate_square_subsequent_mask`). Pass it as `srcMask`
 * or `tgtMask` for a causal (autoregressive) model.
 */
export function generateSquareSubsequentMask(size: number, options: { dtype?: DType; device?: Device } = {}): Tensor {
  checkSize('generateSquareSubsequentMask', 'size', size);
  return causalMask(size, size, options.dtype ?? 'float32', options.device);
}

// The parts both layers have, in PyTorch's names and registration order around their attention.
abstract class TransformerLayer extends Module {
  /** The constructor's arguments, for {@link TransformerEncoder}'s copies. @internal */
  readonly args: readonly [number, number, TransformerLayerOptions];
  /** Whether each block normalises its input (pre-norm) instead of its residual sum. */
  readonly normFirst: boolean;
  /** The feed-forward block's activation. */
  readonly activation: (x: Tensor) => Tensor;
  constructor(cls: string, dModel: number, nhead: number, options: TransformerLayerOptions) {
    super();
    this.args = [dModel, nhead, options];
    checkSize(cls, 'dModel', dModel);
    checkSize(cls, 'nhead', nhead);
    checkSize(cls, 'dimFeedforward', options.dimFeedforward ?? 2048);
    this.normFirst = options.normFirst ?? false;
    this.activation = activationOf(cls, options.activation);
  }
  /** linear2(dropout(activation(linear1(x)))), the feed-forward block. */
  protected feedForward(x: Tensor, parts: { linear1: Linear; dropout: Dropout; linear2: Linear }): Tensor {
    return parts.linear2.forward(parts.dropout.forward(this.activation(parts.linear1.forward(x))));
  }
  /** x + block(norm(x)) with normFirst, else norm(x + block(x)). */
  protected residual(x: Tensor, norm: LayerNorm, block: (x: Tensor) => Tensor): Tensor {
    return this.normFirst ? add(x, block(norm.forward(x))) : norm.forward(add(x, block(x)));
  }
}

/**
 * A transformer encoder layer (torch.nn.TransformerEncoderLayer): self-attention, then a
 * feed-forward block, each with dropout, a residual sum and a layer norm (after the sum, or
 * before the block with normFirst). `forward(src, masks?)`: src [seq, batch, dModel] ([batch,
 * seq, dModel] with batchFirst; [seq, dModel] unbatched), returned in the same shape.
 * Submodules as PyTorch names them: self_attn, linear1, dropout, linear2, norm1, norm2,
 * dropout1, dropout2.
 *
 * @example
 * ```ts
 * const layer = new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true });
 * const causal = nn.generateSquareSubsequentMask(5);
 * const y = layer.call(tg.randn([2, 5, 16]), { srcMask: causal });  // [2, 5, 16]
 * ```
 */
export class TransformerEncoderLayer extends TransformerLayer {
  /** Self-attention (self_attn). */
  selfAttn: MultiheadAttention;
  /** The feed-forward block's first layer, dModel to dimFeedforward. */
  linear1: Linear;
  /** Dropout inside the feed-forward block. */
  dropout: Dropout;
  /** The feed-forward block's second layer, dimFeedforward to dModel. */
  linear2: Linear;
  /** The layer norm around the self-attention block. */
  norm1: LayerNorm;
  /** The layer norm around the feed-forward block. */
  norm2: LayerNorm;
  /** Dropout after the self-attention. */
  dropout1: Dropout;
  /** Dropout after the feed-forward block. */
  dropout2: Dropout;
  /**
   * @param dModel - Features of the input and output (a positive integer, else a ValueError).
   * @param nhead - Attention heads; must divide dModel (else a ValueError).
   * @param options - dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, generator, dtype, device.
   */
  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super('TransformerEncoderLayer', dModel, nhead, options);
    const { dtype, device, generator } = options;
    const o = { dtype, device };
    const p = options.dropout ?? 0.1, ff = options.dimFeedforward ?? 2048, eps = options.layerNormEps ?? 1e-5;
    this.selfAttn = new MultiheadAttention(dModel, nhead, { ...o, dropout: p, batchFirst: options.batchFirst, generator });
    this.linear1 = new Linear(dModel, ff, o);
    this.dropout = new Dropout(p, { generator });
    this.linear2 = new Linear(ff, dModel, o);
    this.norm1 = new LayerNorm(dModel, { ...o, eps });
    this.norm2 = new LayerNorm(dModel, { ...o, eps });
    this.dropout1 = new Dropout(p, { generator });
    this.dropout2 = new Dropout(p, { generator });
  }
  /** The layer's output, shaped as src. */
  forward(src: Tensor, masks: TransformerEncoderMasks = {}): Tensor {
    return tidy(() => {
      const sa = (x: Tensor) => this.dropout1.forward(this.selfAttn.forward(x, x, x, { attnMask: masks.srcMask, keyPaddingMask: masks.srcKeyPaddingMask, needWeights: false })[0]);
      const x = this.residual(src, this.norm1, sa);
      return this.residual(x, this.norm2, (h) => this.dropout2.forward(this.feedForward(h, this)));
    });
  }
}

/**
 * A transformer decoder layer (torch.nn.TransformerDecoderLayer): self-attention over the
 * target, attention from the target to the encoder's output (the memory), and a feed-forward
 * block, each with dropout, a residual sum and a layer norm. `forward(tgt, memory, masks?)`:
 * tgt [T, batch, dModel], memory [S, batch, dModel] (batch first with batchFirst; without the
 * batch dim unbatched); returns tgt's shape. Submodules: self_attn, multihead_attn, linear1,
 * dropout, linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3.
 */
export class TransformerDecoderLayer extends TransformerLayer {
  /** Self-attention over the target (self_attn). */
  selfAttn: MultiheadAttention;
  /** Attention from the target to the memory (multihead_attn). */
  multiheadAttn: MultiheadAttention;
  /** The feed-forward block's first layer. */
  linear1: Linear;
  /** Dropout inside the feed-forward block. */
  dropout: Dropout;
  /** The feed-forward block's second layer. */
  linear2: Linear;
  /** The layer norm around the self-attention block. */
  norm1: LayerNorm;
  /** The layer norm around the attention over the memory. */
  norm2: LayerNorm;
  /** The layer norm around the feed-forward block. */
  norm3: LayerNorm;
  /** Dropout after the self-attention. */
  dropout1: Dropout;
  /** Dropout after the attention over the memory. */
  dropout2: Dropout;
  /** Dropout after the feed-forward block. */
  dropout3: Dropout;
  /**
   * @param dModel - Features of the target, memory and output (a positive integer, else a ValueError).
   * @param nhead - Attention heads; must divide dModel (else a ValueError).
   * @param options - dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, generator, dtype, device.
   */
  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super('TransformerDecoderLayer', dModel, nhead, options);
    const { dtype, device, generator } = options;
    const o = { dtype, device };
    const p = options.dropout ?? 0.1, ff = options.dimFeedforward ?? 2048, eps = options.layerNormEps ?? 1e-5;
    const attn = () => new MultiheadAttention(dModel, nhead, { ...o, dropout: p, batchFirst: options.batchFirst, generator });
    this.selfAttn = attn();
    this.multiheadAttn = attn();
    this.linear1 = new Linear(dModel, ff, o);
    this.dropout = new Dropout(p, { generator });
    this.linear2 = new Linear(ff, dModel, o);
    this.norm1 = new LayerNorm(dModel, { ...o, eps });
    this.norm2 = new LayerNorm(dModel, { ...o, eps });
    this.norm3 = new LayerNorm(dModel, { ...o, eps });
    this.dropout1 = new Dropout(p, { generator });
    this.dropout2 = new Dropout(p, { generator });
    this.dropout3 = new Dropout(p, { generator });
  }
  /** The layer's output, shaped as tgt. */
  forward(tgt: Tensor, memory: Tensor, masks: TransformerDecoderMasks = {}): Tensor {
    return tidy(() => {
      const sa = (x: Tensor) => this.dropout1.forward(this.selfAttn.forward(x, x, x, { attnMask: masks.tgtMask, keyPaddingMask: masks.tgtKeyPaddingMask, needWeights: false })[0]);
      const mha = (x: Tensor) => this.dropout2.forward(this.multiheadAttn.forward(x, memory, memory, { attnMask: masks.memoryMask, keyPaddingMask: masks.memoryKeyPaddingMask, needWeights: false })[0]);
      let x = this.residual(tgt, this.norm1, sa);
      x = this.residual(x, this.norm2, mha);
      return this.residual(x, this.norm3, (h) => this.dropout3.forward(this.feedForward(h, this)));
    });
  }
}

// numLayers copies of `layer` with its parameters (PyTorch deep-copies it, so all start equal).
function clones<L extends TransformerLayer>(layer: L, numLayers: number, cls: string): ModuleList<L> {
  checkSize(cls, 'numLayers', numLayers);
  const make = layer.constructor as new (...args: readonly [number, number, TransformerLayerOptions]) => L;
  const state = layer.stateDict();
  return new ModuleList(Array.from({ length: numLayers }, () => {
    const copy = new make(...layer.args);
    copy.loadStateDict(state);
    return copy.train(layer.training);
  }));
}

/**
 * A stack of numLayers copies of an encoder layer, with an optional final norm
 * (torch.nn.TransformerEncoder). The copies start with the given layer's parameters, as PyTorch's
 * deep copies do; the given layer itself is not used. Submodules: layers.0, layers.1, ..., norm.
 */
export class TransformerEncoder extends Module {
  /** The layers, children '0', '1', ... */
  layers: ModuleList<TransformerEncoderLayer>;
  /** Applied to the last layer's output; null for none. */
  norm: Module | null;
  /**
   * @param encoderLayer - The layer to copy.
   * @param numLayers - Copies (a positive integer, else a ValueError).
   * @param options - `norm`, a module applied to the output (usually a LayerNorm).
   */
  constructor(encoderLayer: TransformerEncoderLayer, readonly numLayers: number, options: { norm?: Module | null } = {}) {
    super();
    this.layers = clones(encoderLayer, numLayers, 'TransformerEncoder');
    this.norm = options.norm ?? null;
  }
  /** src through every layer with the same masks, then norm; shaped as src. */
  forward(src: Tensor, masks: TransformerEncoderMasks = {}): Tensor {
    return tidy(() => {
      let x = src;
      for (const layer of this.layers) x = layer.forward(x, masks);
      return this.norm ? this.norm.forward(x) : x;
    });
  }
}

/**
 * A stack of numLayers copies of a decoder layer, with an optional final norm
 * (torch.nn.TransformerDecoder); copies as {@link TransformerEncoder}. Submodules: layers.0, ..., norm.
 */
export class TransformerDecoder extends Module {
  /** The layers, children '0', '1', ... */
  layers: ModuleList<TransformerDecoderLayer>;
  /** Applied to the last layer's output; null for none. */
  norm: Module | null;
  /**
   * @param decoderLayer - The layer to copy.
   * @param numLayers - Copies (a positive integer, else a ValueError).
   * @param options - `norm`, a module applied to the output (usually a LayerNorm).
   */
  constructor(decoderLayer: TransformerDecoderLayer, readonly numLayers: number, options: { norm?: Module | null } = {}) {
    super();
    this.layers = clones(decoderLayer, numLayers, 'TransformerDecoder');
    this.norm = options.norm ?? null;
  }
  /** tgt through every layer, each attending to memory with the same masks, then norm; shaped as tgt. */
  forward(tgt: Tensor, memory: Tensor, masks: TransformerDecoderMasks = {}): Tensor {
    return tidy(() => {
      let x = tgt;
      for (const layer of this.layers) x = layer.forward(x, memory, masks);
      return this.norm ? this.norm.forward(x) : x;
    });
  }
}
