import { copyInto, reshape, run, zeros, type DiagonalAttrs, type SliceAttrs } from '@tapegrad/tensor';
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
