import { autocastActive, autocastOp,
  DTypeError, ShapeError, ValueError, add, arange, fmt, isFloating, matmul, mul, softmax, tidy, transpose, where, zeros,
  type DType, type Device, type Generator, type Tensor,
} from '@tapegrad/tensor';
import { dropout } from './dropout.js';

/** Options of {@link scaledDotProductAttention}. */
export interface ScaledDotProductAttentionOptions {
  /**
   * Broadcastable to [..., L, S]: a bool mask where true marks the keys a query may attend to
   * (false ones get −∞ before the softmax), or a float mask added to the scores. Note that
   * `MultiheadAttention`'s bool masks mean the opposite (true = masked), as in PyTorch.
   */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights, applied whenever > 0 (default 0): pass 0 in eval mode. */
  dropoutP?: number;
  /** Let query i attend to keys 0..i only (the upper triangle of [L, S] masked); not together with attnMask. */
  isCausal?: boolean;
  /** The factor the scores are multiplied by (default 1/√E). */
  scale?: number;
  /** The generator of the dropout mask (default: the global one). */
  generator?: Generator;
}

/**
 * softmax(q·kᵀ·scale + bias)·v over the last two dims, with dropout on the weights: the
 * computation of every attention here. Returns the output and the weights. q is scaled before
 * the product, as torch's multi_head_attention_forward does: L·E multiplications where the scores
 * would take L·S.
 * @internal
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, scale: number, dropoutP: number, generator?: Generator): [Tensor, Tensor] {
  let scores = matmul(mul(q, scale), transpose(k, -2, -1));
  if (bias) scores = add(scores, bias);
  let weights = softmax(scores, -1);
  if (dropoutP > 0) weights = dropout(weights, { p: dropoutP, generator });
  return [matmul(weights, v), weights];
}

/** The additive form of a mask: a float mask as it is, a bool one as −∞ where `masked` marks (true or false) and 0 elsewhere. */
export function additiveMask(op: string, arg: string, mask: Tensor, masked: boolean, dtype: DType): Tensor {
  if (mask.dtype === 'bool') {
    const zero = zeros([], { dtype, device: mask.device });
    return masked ? where(mask, -Infinity, zero) : where(mask, zero, -Infinity);
  }
  if (!isFloating(mask.dtype)) throw new DTypeError(`${op}: ${arg} must be a bool or floating-point tensor; got ${mask.dtype}`);
  return mask;
}

/** −∞ above the diagonal of an [L, S] matrix, 0 on and below it: query i sees keys 0..i. */
export function causalMask(L: number, S: number, dtype: DType, device?: Device): Tensor {
  const above = arange(0, S, 1, { dtype: 'int32', device }).gt(arange(0, L, 1, { dtype: 'int32', device }).unsqueeze(1));
  return where(above, -Infinity, zeros([], { dtype, device }));
}

/**
 * Attention as torch 2's `torch.nn.functional.scaled_dot_product_attention` defines it:
 * softmax(q·kᵀ·scale + mask)·v, with dropout on the weights. query [..., L, E], key [..., S, E],
 * value [..., S, Ev] (batch dims broadcast) give [..., L, Ev]. A composite: its gradients come
 * from matmul's, softmax's and the rest.
 *
 * Throws a ShapeError for mismatched feature or sequence dims or a mask that does not broadcast
 * to [L, S], a ValueError for both isCausal and attnMask or a dropoutP outside [0, 1], a
 * DTypeError for non-float inputs.
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options: ScaledDotProductAttentionOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('scaledDotProductAttention', [query, key, value], ([q, k, v]) => scaledDotProductAttention(q, k, v, options));
  const op = 'scaledDotProductAttention';
  const { attnMask = null, dropoutP = 0, isCausal = false, generator } = options;
  for (const [arg, t] of [['query', query], ['key', key], ['value', value]] as const) {
    if (t.ndim < 2) throw new ShapeError(`${op}: ${arg} must have at least 2 dims ([..., seq, features]); got ${fmt(t.shape)}`);
    if (!isFloating(t.dtype)) throw new DTypeError(`${op}: ${arg} must be a floating-point tensor; got ${t.dtype}`);
  }
  const L = query.shape[query.ndim - 2]!, E = query.shape[query.ndim - 1]!, S = key.shape[key.ndim - 2]!;
  if (key.shape[key.ndim - 1] !== E) throw new ShapeError(`${op}: key must end in query's feature size ${E}; got query ${fmt(query.shape)}, key ${fmt(key.shape)}`);
  if (value.shape[value.ndim - 2] !== S) throw new ShapeError(`${op}: value must have key's sequence length ${S} in dim -2; got key ${fmt(key.shape)}, value ${fmt(value.shape)}`);
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new ValueError(`${op}: dropoutP must be a probability in [0, 1]; got ${dropoutP}`);
  if (isCausal && attnMask) throw new ValueError(`${op}: pass either attnMask or isCausal, not both (as in PyTorch)`);
  if (attnMask) {
    const [ml, ms] = [attnMask.ndim >= 2 ? attnMask.shape[attnMask.ndim - 2]! : 1, attnMask.ndim >= 1 ? attnMask.shape[attnMask.ndim - 1]! : 1];
    if ((ml !== 1 && ml !== L) || (ms !== 1 && ms !== S)) {
      throw new ShapeError(`${op}: attnMask ${fmt(attnMask.shape)} does not broadcast to [..., ${L}, ${S}] (query length L=${L}, key length S=${S})`);
    }
  }
  return tidy(() => {
    const bias = isCausal ? causalMask(L, S, query.dtype, query.device) : attnMask ? additiveMask(op, 'attnMask', attnMask, false, query.dtype) : null;
    return attend(query, key, value, bias, options.scale ?? 1 / Math.sqrt(E), dropoutP, generator)[0];
  });
}
