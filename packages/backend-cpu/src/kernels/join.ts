import { registerKernel } from '@tapegrad/tensor';
import { unaryKernel } from './elementwise.js';
import type { CpuKernel } from '../strided.js';

const copy = unaryKernel((x) => x);

// cat: copy each input into its slab of the output, through a strided view of that slab.
registerKernel('cat', 'cpu', ((inputs, [out], { dim }: { dim: number }, op) => {
  let start = 0;
  for (const x of inputs) {
    const slab = { ...out!, shape: x.shape, offset: out!.offset + start * out!.strides[dim]! };
    copy([x], [slab], {}, op);
    start += x.shape[dim]!;
  }
}) as CpuKernel);
