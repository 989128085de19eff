import { DTypeError, ShapeError, ValueError, fmt, indexSelect, ne, reshape, tidy, unsqueeze, where, type Tensor } from '@tapegrad/tensor';

/**
 * Rows of weight [numEmbeddings, dim] picked by the int32 indices (any shape), giving
 * [...indices.shape, dim] (torch's embedding). The row at paddingIdx gets no gradient. Indices
 * that are not int32 throw a DTypeError, a weight that is not 2-d a ShapeError.
 */
export function embedding(indices: Tensor, weight: Tensor, options: { paddingIdx?: number } = {}): Tensor {
  if (indices.dtype !== 'int32') throw new DTypeError(`embedding: indices must be an int32 tensor; got ${indices.dtype}`);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be [numEmbeddings, embeddingDim]; got ${fmt(weight.shape)}`);
  let pad = options.paddingIdx;
  if (pad !== undefined) {
    const n = weight.shape[0]!;
    if (!Number.isInteger(pad) || pad < -n || pad >= n) throw new ValueError(`embedding: paddingIdx ${pad} is out of range for ${n} embeddings`);
    if (pad < 0) pad += n;
  }
  return tidy(() => {
    const rows = reshape(indexSelect(weight, 0, reshape(indices, [-1])), [...indices.shape, weight.shape[1]!]);
    if (pad === undefined) return rows;
    // the padding row's value still comes out, but through a detached copy: no gradient reaches it
    const live = unsqueeze(ne(indices, pad), -1);
    return where(live, rows, rows.detach());
  });
}
