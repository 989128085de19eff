import { registerKernel } from '@tapegrad/tensor';
import type { ClassLossAttrs } from '../class-targets.js';
import { classRows, targetOutOfRange, upstreamOffsets, viewOffsets, type View } from './rows.js';

// nllLoss over log-probabilities: loss[p] = -w[y]·x[p, y]; ignored positions give 0 and no
// weight. Inputs [input, target, weight?]; outputs [loss, totalWeight].
function nllLossForward([x, t, w]: readonly View[], [out, total]: readonly View[], { reduction, ignoreIndex }: ClassLossAttrs): void {
  const { C, step, rows } = classRows(x!);
  const targets = viewOffsets(t!);
  const a = x!.handle;
  const ty = t!.handle;
  const per = reduction === 'none' ? out!.handle : undefined;
  let acc = 0;
  let W = 0;
  for (let p = 0; p < rows.length; p++) {
    const y = ty[targets[p]!]!;
    if (y === ignoreIndex) {
      if (per) per[p] = 0;
      continue;
    }
    if (y < 0 || y >= C) targetOutOfRange('nllLoss', y, C, p, t!.shape, ignoreIndex);
    const wy = w ? w.handle[w.offset + y * w.strides[0]!]! : 1;
    const l = -wy * a[rows[p]! + y * step]!;
    W += wy;
    if (per) per[p] = l;
    else acc += l;
  }
  total!.handle[0] = W;
  if (!per) out!.handle[0] = reduction === 'mean' ? acc / W : acc; // all ignored: 0/0 = NaN
}

// Only gradInput[p, y] is written: -w[y]·upstream (/ totalWeight under 'mean'). Everything else,
// and every ignored position, stays 0 (so all-ignored gives a zero gradient, not NaN).
// Inputs [target, totalWeight, upstream, weight?]; output [gradInput] of attrs.inputShape.
function nllLossBackward([t, total, g, w]: readonly View[], [gx]: readonly View[], { reduction, ignoreIndex }: ClassLossAttrs): void {
  const { C, step, rows } = classRows(gx!);
  const targets = viewOffsets(t!);
  const up = upstreamOffsets(g!, rows.length);
  const W = reduction === 'mean' ? total!.handle[total!.offset]! : 1;
  for (let p = 0; p < rows.length; p++) {
    const y = t!.handle[targets[p]!]!;
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= C) targetOutOfRange('nllLoss', y, C, p, t!.shape, ignoreIndex);
    const wy = w ? w.handle[w.offset + y * w.strides[0]!]! : 1;
    gx!.handle[rows[p]! + y * step] = (-wy * g!.handle[up[p]!]!) / W;
  }
}

registerKernel('nllLoss', 'cpu', nllLossForward);
registerKernel('nllLossBackward', 'cpu', nllLossBackward);
