import { ShapeError, add, fmt, matmul, tidy, transpose, type Tensor } from '@tapegrad/tensor';

/**
 * y = x·Wᵀ + b for x [..., in], weight [out, in], bias [out], giving [..., out]
 * (torch.nn.functional.linear). Mismatched shapes throw a ShapeError.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be [outFeatures, inFeatures]; got ${fmt(weight.shape)}`);
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: input ${fmt(x.shape)} must end in inFeatures = ${weight.shape[1]} (weight ${fmt(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(`linear: bias must have shape [${weight.shape[0]}]; got ${fmt(bias.shape)}`);
  }
  // the transpose is a view: the matmul kernel reads it strided, so nothing is copied
  return tidy(() => {
    const y = matmul(x, transpose(weight, 0, 1));
    return bias ? add(y, bias) : y;
  });
}
