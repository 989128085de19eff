import { div, eq, mul, run, where, type ScanAttrs, type Tensor } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// Gradients of the scans (definitions: packages/tensor/src/ops/scan.ts). Output i of a forward
// scan depends on inputs 0..i, so each gradient gathers from the outputs i..n-1: a scan the
// other way.

const scan = (op: 'cumsum' | 'cumprod', t: Tensor, dim: number, reverse: boolean) => run(op, [t], { dim, reverse });

registerGradient<ScanAttrs>('cumsum', { backward: (c, [g]) => [scan('cumsum', g!, c.attrs.dim, !c.attrs.reverse)] });

// cumprod, exact with zeros and without a read of the data (so the same ops serve the GPU), as
// torch's cumprod_backward computes it. With z the first zero in scan order, y = cumprod(x):
// - before z, dy_m/dx_k = y_m / x_k, so dx_k = Σ_{m>=k} y_m g_m / x_k (y_m is 0 from z on);
// - at z, dx_z = Σ_{m>=z} g_m Π_{j<=m, j != z} x_j: the scan of x with x_z set to 1;
// - after z, every product through x_k also has the factor x_z = 0: dx_k = 0.
registerGradient<ScanAttrs>('cumprod', {
  saveInputs: true,
  saveOutputs: true,
  backward: (c, [g]) => {
    const x = c.inputs[0]!, y = c.outputs[0]!;
    const { dim, reverse } = c.attrs;
    const isZero = eq(x, 0);
    const zerosSoFar = scan('cumsum', isZero, dim, reverse);
    const before = eq(zerosSoFar, 0);
    const first = eq(mul(zerosSoFar, isZero), 1);
    const atFirst = scan('cumsum', mul(scan('cumprod', where(first, 1, x), dim, reverse), g!), dim, !reverse);
    const beforeFirst = div(scan('cumsum', mul(y, g!), dim, !reverse), where(before, x, 1));
    return [where(before, beforeFirst, where(first, atFirst, 0))];
  },
});
