import { reshape, sum, shapesEqual, type Shape, type Tensor } from '@tapegrad/tensor';

/** Undo broadcasting: sum g over the dims that were expanded to reach g's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  // only new leading dims (a bias broadcast over the batch): the plain sum has the shape already,
  // and its storage is the gradient's own, so a leaf takes it without a copy
  if (dims.length === lead) return sum(g, dims);
  return reshape(sum(g, dims, true), shape);
}
