import { narrow, run, type RemapAttrs, type RemapDim, type Tensor } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// remap (flip, roll, pad; definitions: packages/tensor/src/ops/remap.ts). Flips, rolls and
// constant padding read each input element at most once, so the gradient reads g back the same
// way: one remap with the inverse maps (a view, for padding that only adds a border). Reflect,
// replicate and circular padding read some elements more than once; remapBackward sums those
// reads, one dim at a time.
const readsOnce = (m: RemapDim, n: number) => m.mode === 'flip' || m.mode === 'constant' || (m.mode === 'circular' && m.size === n);

registerGradient<RemapAttrs>('remap', {
  backward: (c, [g]) => {
    const shape = c.inputShapes[0]!;
    const { maps } = c.attrs;
    if (maps.every((m) => m.mode === 'constant' && m.lo >= 0 && m.size - m.lo >= shape[m.dim]!)) {
      return [maps.reduce((t, m) => narrow(t, m.dim, m.lo, shape[m.dim]!), g!)];
    }
    const once = maps.filter((m) => readsOnce(m, shape[m.dim]!));
    let out: Tensor = g!;
    if (once.length) {
      const inverse = once.map((m): RemapDim => (m.mode === 'flip' ? m : { ...m, lo: -m.lo, size: shape[m.dim]! }));
      out = run('remap', [out], { maps: inverse, value: 0 });
    }
    for (const m of maps.filter((m) => !readsOnce(m, shape[m.dim]!))) {
      const folded = out.shape.slice();
      folded[m.dim] = shape[m.dim]!;
      out = run('remapBackward', [out], { map: m, shape: folded });
    }
    return [out];
  },
});
