import { registerKernel } from '@tapegrad/tensor';
import { splitDims, type CpuKernel } from '../strided.js';

// Row-wise along `dim`: subtract the max, exponentiate, normalise. The sum runs in float64.
function rowKernel(log: boolean): CpuKernel<{ dim: number }> {
  return ([x], [out], { dim }) => {
    const along = x!.shape.length ? [dim] : [];
    const src = splitDims(x!, along);
    const dst = splitDims(out!, along);
    const a = x!.handle;
    const o = out!.handle;
    const n = src.inner.length;
    for (let r = 0; r < src.outer.length; r++) {
      const sb = src.outer[r]!;
      const db = dst.outer[r]!;
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, a[sb + src.inner[j]!]!);
      if (m === -Infinity || m === Infinity) m = 0; // all -inf rows give NaN, as torch does
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(a[sb + src.inner[j]!]! - m);
      if (log) {
        const lse = m + Math.log(s);
        for (let j = 0; j < n; j++) o[db + dst.inner[j]!] = a[sb + src.inner[j]!]! - lse;
      } else {
        for (let j = 0; j < n; j++) o[db + dst.inner[j]!] = Math.exp(a[sb + src.inner[j]!]! - m) / s;
      }
    }
  };
}
registerKernel('softmax', 'cpu', rowKernel(false));
registerKernel('logSoftmax', 'cpu', rowKernel(true));
