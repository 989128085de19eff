import { cat, copyInto, reshape, run, stack, zeros, type DiagonalAttrs, type DimAttrs, type SelectAttrs, type SliceAttrs, type SplitAttrs } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';
import { sumToShape } from './util.js';

// Gradients of the view ops (definitions: packages/tensor/src/ops/view.ts).
registerGradient('reshape', { backward: (c, [g]) => [reshape(g!, c.inputShapes[0]!)] });
registerGradient<{ dims: number[] }>('permute', {
  backward: (c, [g]) => {
    const inverse = new Array<number>(c.attrs.dims.length);
    c.attrs.dims.forEach((d, i) => (inverse[d] = i));
    return [run('permute', [g!], { dims: inverse })];
  },
});
registerGradient('expand', { backward: (c, [g]) => [sumToShape(g!, c.inputShapes[0]!)] });
// slice: the gradient is zero outside the slice and g inside it
registerGradient<SliceAttrs>('slice', {
  backward: (c, [g]) => {
    const out = zeros(c.inputShapes[0]!, { dtype: g!.dtype, device: g!.device });
    const window = run('slice', [out], c.attrs);
    copyInto(window, g!);
    window.dispose();
    return [out];
  },
});
// select: like slice, zero outside the selected slice (torch's select_backward)
registerGradient<SelectAttrs>('select', {
  backward: (c, [g]) => {
    const out = zeros(c.inputShapes[0]!, { dtype: g!.dtype, device: g!.device });
    const window = run('select', [out], c.attrs);
    copyInto(window, g!);
    window.dispose();
    return [out];
  },
});
// diagonal (issue 16): zero off the diagonal, g on it
registerGradient<DiagonalAttrs>('diagonal', {
  backward: (c, [g]) => {
    const out = zeros(c.inputShapes[0]!, { dtype: g!.dtype, device: g!.device });
    const window = run('diagonal', [out], c.attrs);
    copyInto(window, g!);
    window.dispose();
    return [out];
  },
});
// split and unbind: the pieces' gradients (zeros for unused pieces) joined back in one pass,
// not a zero-filled input per piece as slice's rule would make
registerGradient<SplitAttrs>('split', { backward: (c, gs) => [cat(gs, c.attrs.dim)] });
registerGradient<DimAttrs>('unbind', { backward: (c, gs) => [stack(gs, c.attrs.dim)] });
