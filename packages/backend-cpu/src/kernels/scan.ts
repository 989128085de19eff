import { fitsInt32, registerKernel, unravelIndex, ValueError, type Shape, type ScanAttrs } from '@tapegrad/tensor';
import { fills, lineBases, type CpuKernel } from '../strided.js';

// A line at a time along `dim`, each walked in place from its start with one stride (no offset
// per element), forwards or, for `reverse`, from the end. The running value is a JS number, as
// torch's CPU scans accumulate floats in double; an int32 output checks every running value,
// since PyTorch's would be int64.

function overflow(op: 'cumsum' | 'cumprod', v: number, at: number, shape: Shape): ValueError {
  const [what, verb] = op === 'cumsum' ? ['sum', 'sums'] : ['product', 'multiplies'];
  return new ValueError(
    `${op}: the running ${what} ${v} at index [${unravelIndex(at, shape).join(', ')}] does not fit in int32, the dtype tapegrad ${verb} integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first`,
  );
}

function scanKernel(op: 'cumsum' | 'cumprod'): CpuKernel<ScanAttrs> {
  const product = op === 'cumprod';
  return fills(([x], [out], { dim, reverse }) => {
    const rank = x!.shape.length;
    const n = rank ? x!.shape[dim]! : 1;
    const keep = x!.shape.map((_, d) => d).filter((d) => d !== dim);
    const starts = lineBases(keep.map((d) => x!.shape[d]!), keep.map((d) => x!.strides[d]!), x!.offset);
    const outStarts = lineBases(keep.map((d) => out!.shape[d]!), keep.map((d) => out!.strides[d]!), out!.offset);
    const xs = rank ? x!.strides[dim]! : 0, os = rank ? out!.strides[dim]! : 0;
    const a = x!.handle, o = out!.handle;
    const int = out!.dtype === 'int32';
    for (let r = 0; r < starts.length; r++) {
      let acc = product ? 1 : 0;
      for (let k = 0; k < n; k++) {
        const j = reverse ? n - 1 - k : k;
        const v = a[starts[r]! + j * xs]!;
        acc = product ? acc * v : acc + v;
        const at = outStarts[r]! + j * os;
        if (int && !fitsInt32(acc)) throw overflow(op, acc, at, out!.shape);
        o[at] = acc;
      }
    }
  });
}
registerKernel('cumsum', 'cpu', scanKernel('cumsum'));
registerKernel('cumprod', 'cpu', scanKernel('cumprod'));
