import { exp, mul, sub, sum } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// Both rules use the saved output, not the input: y = softmax(x) gives dx = y·(g − Σ g·y),
// y = logSoftmax(x) gives dx = g − exp(y)·Σ g.
registerGradient<{ dim: number }>('softmax', {
  saveOutputs: true,
  backward: (c, [g]) => {
    const y = c.outputs[0]!;
    const dim = y.ndim ? [c.attrs.dim] : [];
    return [mul(y, sub(g!, sum(mul(g!, y), dim, true)))];
  },
});
registerGradient<{ dim: number }>('logSoftmax', {
  saveOutputs: true,
  backward: (c, [g]) => {
    const y = c.outputs[0]!;
    const dim = y.ndim ? [c.attrs.dim] : [];
    return [sub(g!, mul(exp(y), sum(g!, dim, true)))];
  },
});
