import { narrow } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// cat: each input's gradient is its slab of g (a view).
registerGradient<{ dim: number }>('cat', {
  backward: (c, [g]) => {
    let start = 0;
    return c.inputShapes.map((shape, i) => {
      const n = shape[c.attrs.dim]!;
      const slab = c.needsGrad[i] ? narrow(g!, c.attrs.dim, start, n) : null;
      start += n;
      return slab;
    });
  },
});
