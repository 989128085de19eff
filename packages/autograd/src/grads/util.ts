import { reshape, sum, shapesEqual, type Shape, type Tensor } from '@tapegrad/tensor';

/** Undo broadcasting: sum g over the dims that were expanded to reach g's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  return reshape(sum(g, dims, true), shape);
}
