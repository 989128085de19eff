import { registerKernel, type SgdStepAttrs, type AdamStepAttrs, type ForeachStepAttrs } from '@tapegrad/tensor';
import type { CpuKernel } from '../strided.js';
import { wasmAdam, wasmSgd } from '../wasm/runtime.js';

// Fused optimizer updates (op definitions: @tapegrad/nn's optim/fused.ts). They have no outputs:
// each writes the parameter and its state buffers in place, in one pass, where the same update
// from separate ops would walk the arrays a dozen times and allocate a temporary per op.
// Inputs are contiguous (the optimizer checks, and uses the composite update otherwise).

// inputs: param, grad[, momentum buffer]
const sgdStep: CpuKernel<SgdStepAttrs> = ([p, g, b], _out, a) => {
  const P = p!.handle, G = g!.handle, B = b?.handle;
  const [po, go, bo] = [p!.offset, g!.offset, b?.offset ?? 0];
  const n = P.length === 0 ? 0 : p!.shape.reduce((x, y) => x * y, 1);
  // float32 in the WebAssembly memory: the same arithmetic, two lanes at a time (wasm/elementwise.wat)
  if (p!.dtype === 'float32' && g!.dtype === 'float32' && (!b || b.dtype === 'float32') && wasmSgd(p!, g!, b, n, a)) return;
  const { lr, momentum, dampening, weightDecay, nesterov, maximize, init } = a;
  for (let i = 0; i < n; i++) {
    let d = maximize ? -G[go + i]! : G[go + i]!;
    const w = P[po + i]!;
    if (weightDecay !== 0) d += weightDecay * w;
    if (B) {
      const buf = init ? d : momentum * B[bo + i]! + (1 - dampening) * d;
      B[bo + i] = buf;
      d = nesterov ? d + momentum * buf : buf;
    }
    P[po + i] = w - lr * d;
  }
};
registerKernel('sgdStep', 'cpu', sgdStep);

// inputs: param, grad, expAvg, expAvgSq[, maxExpAvgSq]
const adamStep: CpuKernel<AdamStepAttrs> = ([p, g, m, v, vmax], _out, a) => {
  const P = p!.handle, G = g!.handle, M = m!.handle, V = v!.handle, X = vmax?.handle;
  const [po, go, mo, vo, xo] = [p!.offset, g!.offset, m!.offset, v!.offset, vmax?.offset ?? 0];
  const n = p!.shape.reduce((x, y) => x * y, 1);
  // float32 in the WebAssembly memory: the same arithmetic, two lanes at a time (wasm/elementwise.wat)
  if ([p, g, m, v, vmax].every((t) => !t || t.dtype === 'float32') && wasmAdam(p!, g!, m!, v!, a.amsgrad ? vmax : undefined, n, a)) return;
  const { lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, maximize, step } = a;
  const stepSize = lr / (1 - beta1 ** step);
  const c2 = Math.sqrt(1 - beta2 ** step);
  const decay = decoupled ? 1 - lr * weightDecay : 1;
  for (let i = 0; i < n; i++) {
    let d = maximize ? -G[go + i]! : G[go + i]!;
    let w = P[po + i]!;
    if (weightDecay !== 0) {
      if (decoupled) w *= decay;
      else d += weightDecay * w;
    }
    const mi = beta1 * M[mo + i]! + (1 - beta1) * d;
    let vi = beta2 * V[vo + i]! + (1 - beta2) * d * d;
    M[mo + i] = mi;
    V[vo + i] = vi;
    if (amsgrad) {
      vi = Math.max(X![xo + i]!, V[vo + i]!);
      X![xo + i] = vi;
    }
    // read back the stored (possibly float32) moments, so the update matches the unfused one
    P[po + i] = w - (stepSize * M[mo + i]!) / (Math.sqrt(amsgrad ? X![xo + i]! : V[vo + i]!) / c2 + eps);
  }
};
registerKernel('adamStep', 'cpu', adamStep);

// Every parameter of an optimizer step in one kernel call: the single kernel over each parameter's
// inputs in turn. The loop saves the dispatch per parameter (a replay's calls, eager's dispatch
// and tape), not arithmetic, so its results are the single kernel's.
const foreach = <A>(one: CpuKernel<A>): CpuKernel<ForeachStepAttrs<A>> => (inputs, _out, a, op) => {
  const w = inputs.length / a.each.length;
  a.each.forEach((attrs, j) => one(inputs.slice(j * w, j * w + w), [], attrs, op));
};
registerKernel('sgdStepForeach', 'cpu', foreach(sgdStep));
registerKernel('adamStepForeach', 'cpu', foreach(adamStep));

export type { SgdStepAttrs, AdamStepAttrs };
