import { arange, nn, type Tensor } from 'tapegrad';

export type ModelName = 'lstm' | 'transformer';

/** What a checkpoint needs to rebuild its model (saved in its metadata). */
export interface ModelConfig {
  model: ModelName;
  vocabSize: number;
  /** Characters a training window holds, and the most the transformer attends over. */
  context: number;
  /** Embedding width, the LSTM's hidden size and the transformer's model width. */
  dim: number;
  layers: number;
  /** Attention heads (transformer only). */
  heads: number;
}

/** Both models map character indices [batch, time] to next-character logits [batch, time, vocab]. */
export abstract class CharModel extends nn.Module {
  constructor(readonly config: ModelConfig) {
    super();
  }
  abstract override forward(ids: Tensor): Tensor;
}

/** Embedding, a stack of LSTM layers, and a linear head over the vocabulary. */
export class CharLSTM extends CharModel {
  embed: nn.Embedding;
  lstm: nn.LSTM;
  head: nn.Linear;
  constructor(config: ModelConfig) {
    super(config);
    this.embed = new nn.Embedding(config.vocabSize, config.dim);
    this.lstm = new nn.LSTM(config.dim, config.dim, { numLayers: config.layers, batchFirst: true });
    this.head = new nn.Linear(config.dim, config.vocabSize);
  }
  forward(ids: Tensor): Tensor {
    return this.withState(ids, null)[0];
  }
  /** Logits and the final (h, c), to go on from where a sequence stopped (sampling one character at a time). */
  withState(ids: Tensor, state: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    const [out, next] = this.lstm.call(this.embed.call(ids), state);
    return [this.head.call(out), next];
  }
}

/** Multi-head self-attention where position t sees positions 0..t only. */
export class CausalSelfAttention extends nn.Module {
  qkv: nn.Linear;
  proj: nn.Linear;
  constructor(dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new Error(`CausalSelfAttention: dim (${dim}) must be a multiple of heads (${heads})`);
    this.qkv = new nn.Linear(dim, 3 * dim);
    this.proj = new nn.Linear(dim, dim);
  }
  forward(x: Tensor): Tensor {
    const [B, T, D] = x.shape as [number, number, number];
    // [B, T, 3·D] -> three [B, heads, T, D/heads]
    const [q, k, v] = this.qkv.call(x).reshape(B, T, 3, this.heads, D / this.heads).permute(2, 0, 3, 1, 4).unbind(0);
    const y = nn.functional.scaledDotProductAttention(q!, k!, v!, { isCausal: true });
    return this.proj.call(y.transpose(1, 2).reshape(B, T, D));
  }
}

/** A pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x)). */
export class Block extends nn.Module {
  norm1: nn.LayerNorm;
  attn: CausalSelfAttention;
  norm2: nn.LayerNorm;
  mlp: nn.Sequential;
  constructor(dim: number, heads: number) {
    super();
    this.norm1 = new nn.LayerNorm(dim);
    this.attn = new CausalSelfAttention(dim, heads);
    this.norm2 = new nn.LayerNorm(dim);
    this.mlp = new nn.Sequential(new nn.Linear(dim, 4 * dim), new nn.GELU(), new nn.Linear(4 * dim, dim));
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.attn.call(this.norm1.call(x)));
    return h.add(this.mlp.call(this.norm2.call(h)));
  }
}

/** A small GPT: token and learned position embeddings, causal blocks, a final norm and a linear head. */
export class CharTransformer extends CharModel {
  tokens: nn.Embedding;
  positions: nn.Embedding;
  blocks: nn.ModuleList<Block>;
  norm: nn.LayerNorm;
  head: nn.Linear;
  constructor(config: ModelConfig) {
    super(config);
    this.tokens = new nn.Embedding(config.vocabSize, config.dim);
    this.positions = new nn.Embedding(config.context, config.dim);
    this.blocks = new nn.ModuleList(Array.from({ length: config.layers }, () => new Block(config.dim, config.heads)));
    this.norm = new nn.LayerNorm(config.dim);
    this.head = new nn.Linear(config.dim, config.vocabSize);
  }
  forward(ids: Tensor): Tensor {
    const T = ids.shape[1]!;
    if (T > this.config.context) throw new Error(`CharTransformer: at most ${this.config.context} characters of context (its position table); got ${T}`);
    let x = this.tokens.call(ids).add(this.positions.call(arange(0, T, 1, { dtype: 'int32', device: ids.device })));
    for (const block of this.blocks) x = block.call(x);
    return this.head.call(this.norm.call(x));
  }
}

export function makeModel(config: ModelConfig): CharModel {
  return config.model === 'lstm' ? new CharLSTM(config) : new CharTransformer(config);
}

export function countParameters(model: nn.Module): number {
  return model.parameters().reduce((n, p) => n + p.size, 0);
}
