import { registerKernel } from '@tapegrad/tensor';
import { unaryKernel } from './elementwise.js';
import { fills, isContiguous, type CpuKernel } from '../strided.js';

const copy = unaryKernel((x) => x);

// cat: copy each input into its slab of the output, through a strided view of that slab. A
// contiguous input of the output's dtype is whole blocks of the slab (one block when dim is 0),
// each copied at once: the recurrent layers stack a sequence's steps and join gates this way.
registerKernel('cat', 'cpu', fills(((inputs, [out], { dim }: { dim: number }, op) => {
  const o = out!;
  const inner = o.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const outer = o.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const blocks = isContiguous(o);
  let start = 0;
  for (const x of inputs) {
    if (blocks && x.dtype === o.dtype && isContiguous(x)) {
      const len = x.shape[dim]! * inner, stride = o.shape[dim]! * inner, at = o.offset + start * inner;
      for (let r = 0; r < outer; r++) o.handle.set(x.handle.subarray(x.offset + r * len, x.offset + (r + 1) * len), at + r * stride);
    } else {
      copy([x], [{ ...o, shape: x.shape, offset: o.offset + start * o.strides[dim]! }], {}, op);
    }
    start += x.shape[dim]!;
  }
}) as CpuKernel));
