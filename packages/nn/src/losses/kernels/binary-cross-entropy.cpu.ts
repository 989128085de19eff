import { registerKernel, ValueError, type Shape } from '@tapegrad/tensor';
import { viewOffsets, type View } from './rows.js';

/** The shortest decimal that reads back as float32 `v` (1.01, not 1.0099999904632568). */
function float32Text(v: number): string {
  for (let p = 1; p < 9; p++) if (Math.fround(Number(v.toPrecision(p))) === v) return String(Number(v.toPrecision(p)));
  return String(v);
}

/** PyTorch's error for a binaryCrossEntropy input outside [0, 1], naming the value and where. */
function notAProbability(v: number, float32: boolean, i: number, shape: Shape): ValueError {
  const at = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return new ValueError(`binaryCrossEntropy: all elements of input should be between 0 and 1; got ${float32 ? float32Text(v) : v} at index [${at.join(', ')}]`);
}

// The input check of binaryCrossEntropy: throws at the first element outside [0, 1] (NaN
// included, as PyTorch). Inputs [input]; output [a 0-d int32, 0], which the caller drops.
function binaryCrossEntropyCheck([x]: readonly View[], [ok]: readonly View[]): void {
  const a = x!.handle;
  const at = viewOffsets(x!);
  for (let i = 0; i < at.length; i++) {
    const v = a[at[i]!]!;
    if (!(v >= 0 && v <= 1)) throw notAProbability(v, a instanceof Float32Array, i, x!.shape);
  }
  ok!.handle[ok!.offset] = 0;
}

registerKernel('binaryCrossEntropyCheck', 'cpu', binaryCrossEntropyCheck);
