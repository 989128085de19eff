import { probabilityInputError, registerKernel } from '@tapegrad/tensor';
import { viewOffsets, type View } from './rows.js';

// The input check of binaryCrossEntropy: throws at the first element outside [0, 1] (NaN
// included, as PyTorch). Inputs [input]; output [a 0-d int32, 0], which the caller drops.
function binaryCrossEntropyCheck([x]: readonly View[], [ok]: readonly View[]): void {
  const a = x!.handle;
  const at = viewOffsets(x!);
  for (let i = 0; i < at.length; i++) {
    const v = a[at[i]!]!;
    if (!(v >= 0 && v <= 1)) throw probabilityInputError(v, a instanceof Float32Array, i, x!.shape);
  }
  ok!.handle[ok!.offset] = 0;
}

registerKernel('binaryCrossEntropyCheck', 'cpu', binaryCrossEntropyCheck);
