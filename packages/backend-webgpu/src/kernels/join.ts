import { registerKernel } from '@tapegrad/tensor';
import type { WebGPUKernel } from '../program.js';
import { copyProgram } from './elementwise.js';

// cat: one copy dispatch per input, into its slab of the output (a strided view of it).
registerKernel('cat', 'webgpu', ((inputs, [out], { dim }: { dim: number }) => {
  let start = 0;
  return inputs.map((x) => {
    const slab = { ...out!, shape: x.shape, offset: out!.offset + start * out!.strides[dim]! };
    start += x.shape[dim]!;
    return copyProgram(x, slab);
  });
}) as WebGPUKernel);
