import { classTargetError, probabilityInputError, registerKernel, type Shape, type ClassLossAttrs, type TargetReport } from '@tapegrad/tensor';
import { broadcastStrides, coalesce, f32Bits, numelOf, preamble, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// The fused class-index losses, as the CPU kernels (@tapegrad/nn's losses/kernels, and
// crossEntropy's in @tapegrad/backend-cpu's kernels/cross-entropy.ts; op definitions: nn's
// losses/cross-entropy.ts and nll-loss.ts). Input (C), (N, C) or (N, C, d...): one
// row of C classes per target position, classes along dim 1 (dim 0 for 1-d input).
//
// crossEntropy is two dispatches: a workgroup per row finds the row max and Σ exp(x - max)
// through workgroup memory and saves them as the stats output (max, log Σ), and with `saveExps`
// each exp(x - max) (rows of C), then one workgroup turns the stats into per-position losses, a
// thread per row, and tree-sums them with the target weights: a fixed order, so the result is
// deterministic. The backward makes softmax from the saved exps and log Σ, or recomputes it
// from the stats (linearCrossEntropy's chunks save no exps), a workgroup per row. A bad target is found on the GPU: every read of
// the loss, its gradient and what is computed from them throws the CPU's IndexError (see the README).

const REDUCTION = { none: 0, sum: 1, mean: 2 };

/** The row geometry of an input-shaped view: class count, class step, and the position dims' strides. */
function rows(x: { shape: Shape; strides: readonly number[] }) {
  const cd = x.shape.length === 1 ? 0 : 1;
  const keep = (_: number, i: number) => i !== cd;
  return { C: x.shape[cd]!, step: x.strides[cd]!, positions: x.shape.filter(keep), strides: x.strides.filter(keep) };
}
/** walkMeta over the positions for several operands (offset and strides along the position dims). */
function positionWalk(positions: Shape, operands: { offset: number; strides: readonly number[] }[]): number[] {
  const co = coalesce(positions, operands.map((o) => o.strides));
  return walkMeta(co.shape, operands.map((o, j) => ({ offset: o.offset, strides: co.strides[j]! })));
}
/** The upstream gradient per position: one value for every position unless reduction is 'none'. */
const upstream = (g: GpuView, positions: Shape) => ({ offset: g.offset, strides: g.shape.length ? g.strides : positions.map(() => 0) });

const targetError = (op: string, C: number, ignoreIndex: number, targetShape: Shape, report?: TargetReport) => (y: number, p: number) =>
  classTargetError(op, y, C, p, targetShape, ignoreIndex, report);
/** WGSL `wt(c)`: the class weight from binding `in{k}` (offset md[o], stride md[o+1]), or 1. */
const weightFn = (w: GpuView | undefined, k: number, o: number) =>
  `fn wt(c: u32) -> f32 { ${w ? `return in${k}[md[${o}u] + c * md[${o + 1}u]];` : 'return 1.0;'} }`;
const weightMeta = (w: GpuView | undefined) => (w ? [w.offset, w.strides[0]!] : [0, 0]);
/** A tree over workgroup memory `arr`, combining with `op`; every thread must reach it. */
const tree = (arr: string, op: (a: string, b: string) => string) =>
  `workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) { if (l < s) { ${arr}[l] = ${op(`${arr}[l]`, `${arr}[l + s]`)}; } workgroupBarrier(); }`;
const MAIN = `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {`;
const ign = (v: number) => v >>> 0;

// The WGSL of crossEntropy's three passes, shared by its eager kernels and the combined kernel
// (`crossEntropyCombined`, one dispatch) so that both make the same float32 operations.

/**
 * WGSL: `let {result}` = `value` (of class j) combined over a row's C classes in the order eager's
 * workgroup per row takes: thread l folds j = l, l + WG, ... from `init`, then a tree over the WG
 * slots. `coop`: the workgroup does that (through sv); else one thread replays the same order in
 * its private array rv, skipping the slots past C that hold `init` (folding which changes nothing),
 * so a thread per row gets the workgroup's bits.
 */
function rowReduce(coop: boolean, init: string, value: string, comb: (a: string, b: string) => string, result: string): string {
  if (coop) {
    return `{ var a = ${init}; for (var j = l; j < C; j += WG) { a = ${comb('a', value)}; } sv[l] = a; }
  ${tree('sv', comb)}
  let ${result} = sv[0];
  workgroupBarrier();`;
  }
  return `{ let nq = min(C, WG);
    for (var q = 0u; q < nq; q++) { var a = ${init}; for (var j = q; j < C; j += WG) { a = ${comb('a', value)}; } rv[q] = a; }
    for (var s = WG / 2u; s > 0u; s = s >> 1u) { for (var q = 0u; q < s && q + s < nq; q++) { rv[q] = ${comb('rv[q]', 'rv[q + s]')}; } } }
  let ${result} = rv[0];`;
}
/** One row's statistics: `mx` (the max) and `se`, Σ exp(x - mx); x's row at {x}[o0 + j * sx] (x: the binding holding the logits). */
const rowStats = (coop: boolean, x = 'in0') => `// the most negative finite start, as the CPU: an all -inf row gives log Σ = -inf, not NaN
  ${rowReduce(coop, '-3.4028234663852886e38', `${x}[o0 + j * sx]`, (p, q) => `max(${p}, ${q})`, 'mx')}
  ${rowReduce(coop, '0.0', `exp(${x}[o0 + j * sx] - mx)`, (p, q) => `${p} + ${q}`, 'se')}`;
/**
 * The losses, a thread per position (p = l, l + WG, ...), and their tree sums: the loss in
 * sa[0], the total weight in sw[0]. `pos` declares o0 (x) and o1 (target) for position p;
 * `stats(q)` reads word q of the statistics, `store(v)` stores the loss of p under 'none'.
 */
const positionLosses = (pos: string, stats: (q: string) => string, store: (v: string) => string, x = 'in0') => `var sumW = f32(C);
  if (HAS_WEIGHT && eps > 0.0) { sumW = 0.0; for (var c = 0u; c < C; c++) { sumW += wt(c); } }
  var acc = 0.0; var W = 0.0;
  for (var p = l; p < rows; p += WG) {
    ${pos}
    let y = in1[o1];
    var lp = 0.0;
    if (y != ig && y >= 0 && y < i32(C)) {
      let m = ${stats('2u * p')}; let ls = ${stats('2u * p + 1u')};
      let wy = wt(u32(y));
      lp = wy * (m - ${x}[o0 + u32(y) * sx] + ls);
      if (eps > 0.0) {
        // Σ w[c]·(x[c] - x[0]): the common offset x[0] cancels, keeping precision for large logits
        let r0 = ${x}[o0];
        var t = 0.0;
        for (var c = 0u; c < C; c++) { t += wt(c) * (${x}[o0 + c * sx] - r0); }
        lp = (1.0 - eps) * lp + (eps / f32(C)) * (sumW * (m - r0 + ls) - t);
      }
      W += wy;
    }
    acc += lp;
    if (red == 0u) { ${store('lp')} }
  }
  sa[l] = acc; sw[l] = W;
  ${tree('sa', (p, q) => `${p} + ${q}`)}
  ${tree('sw', (p, q) => `${p} + ${q}`)}`;
/** WGSL: row p's exps (rows of C at word md[o] of binding `b`) as exp(x - max), each computed as rowStats's sum takes it. */
const storeExps = (coop: boolean, b: string, o: string, p: string, x = 'in0') =>
  `for (var j = ${coop ? 'l' : '0u'}; j < C; j += ${coop ? 'WG' : '1u'}) { ${b}[md[${o}] + ${p} * C + j] = exp(${x}[o0 + j * sx] - mx); }`;
/** The saved exps for the backward: row `p`'s at word md[o] of binding `b`. */
interface SavedExps {
  b: string;
  o: string;
  p: string;
}
/**
 * One row's gradient (see crossEntropyBackward below), by the workgroup (`coop`) or by one
 * thread: x's row at in0[o0 + j * sx], its target y and whether it counts (`keep`), the
 * gradient's row at `out`[og + j * so]; `max` and `logSum` the row's stats, `up` the upstream
 * gradient, `total` the total weight. softmax: the saved `exps` times exp(-logSum), or
 * exp(x - (max + logSum)).
 */
const rowGradient = (coop: boolean, out: string, max: string, logSum: string, up: string, total: string, x = 'in0', exps?: SavedExps) => `var sumW = f32(C);
  if (HAS_WEIGHT) {
    ${rowReduce(coop, '0.0', 'wt(j)', (p, q) => `${p} + ${q}`, 'ws')}
    sumW = ws;
  }
  let scale = ${up} / select(1.0, ${total}, red == 2u);
  let yy = u32(select(0, y, keep));
  let wy = wt(yy);
  let u = eps / f32(C);
  let k = ((1.0 - eps) * wy + u * sumW) * scale${exps ? ` * exp(-(${logSum}))` : ''};
  ${exps ? '' : `let shift = ${max} + ${logSum};`}
  for (var j = ${coop ? 'l' : '0u'}; j < C; j += ${coop ? 'WG' : '1u'}) {
    var v = ${exps ? `${exps.b}[md[${exps.o}] + ${exps.p} * C + j]` : `exp(${x}[o0 + j * sx] - shift)`} * k - u * wt(j) * scale;
    if (j == yy) { v -= (1.0 - eps) * wy * scale; }
    ${out}[og + j * so] = select(0.0, v, keep);
  }`;
const hasWeight = (w: GpuView | undefined) => `const HAS_WEIGHT = ${!!w};`;

// inputs [input, target, weight?]; outputs [loss, stats (positions x 2), totalWeight, exps?]
registerKernel('crossEntropy', 'webgpu', (([x, t, w], [loss, stats, total, exps], a) => {
  const r = rows(x!);
  const n = numelOf(r.positions);
  const walkX = positionWalk(r.positions, [{ offset: x!.offset, strides: r.strides }, t!]);
  const errors = targetError('crossEntropy', r.C, a.ignoreIndex, t!.shape, a.report);
  // a workgroup per row: [rows, slot, C, class step, ignoreIndex, stats offset, exps offset, walk(x, target)]
  const statsWgsl = () => `${preamble([x!.dtype, 'int32'], [stats!.dtype, ...(exps ? [exps.dtype] : [])], true)}
var<workgroup> sv: array<f32, WG>;
${MAIN}
  let row = wid(w, nw);
  if (row >= md[0]) { return; }
  ${walk(2, '7u', 'row')}
  let C = md[2]; let sx = md[3];
  let y = in1[o1];
  let ignored = y == bitcast<i32>(md[4]);
  let bad = !ignored && (y < 0 || y >= i32(C));
  if (bad && l == 0u) { report(y, row); }
  ${rowStats(true)}
  ${exps ? storeExps(true, 'out1', '6u', 'row') : ''}
  if (l == 0u) {
    let keep = !ignored && !bad;
    out0[md[5] + 2u * row] = select(0.0, mx, keep);
    out0[md[5] + 2u * row + 1u] = select(0.0, log(se), keep);
  }
}`;
  const statsProgram: Program = {
    key: `crossEntropy:stats:${!!exps}`, wgsl: statsWgsl, inputs: [x!.handle, t!.handle], outputs: [stats!.handle, ...(exps ? [exps.handle] : [])],
    meta: [n, 0, r.C, r.step, ign(a.ignoreIndex), stats!.offset, exps?.offset ?? 0, ...walkX], workgroups: n, errors,
  };
  // one workgroup: [1, slot, rows, C, class step, ignoreIndex, ε, reduction, weight offset and
  // stride, stats offset, loss offset, total offset, walk(x, target)]
  const lossWgsl = () => `${preamble([x!.dtype, 'int32', stats!.dtype, ...(w ? [w.dtype] : [])], [loss!.dtype, total!.dtype])}
var<workgroup> sa: array<f32, WG>;
var<workgroup> sw: array<f32, WG>;
${weightFn(w, 3, 8)}
${hasWeight(w)}
${MAIN}
  let rows = md[2]; let C = md[3]; let sx = md[4]; let ig = bitcast<i32>(md[5]); let eps = bitcast<f32>(md[6]); let red = md[7];
  ${positionLosses(walk(2, '13u', 'p'), (q) => `in2[md[10] + ${q}]`, (v) => `out0[md[11] + p] = ${v};`)}
  if (l == 0u) {
    out1[md[12]] = sw[0];
    // all targets ignored under 'mean' is 0/0 = NaN, as PyTorch
    if (red != 0u) { out0[md[11]] = select(sa[0], sa[0] / sw[0], red == 2u); }
  }
}`;
  const lossProgram: Program = {
    key: `crossEntropy:loss:${!!w}`, wgsl: lossWgsl, inputs: [x!.handle, t!.handle, stats!.handle, ...(w ? [w.handle] : [])], outputs: [loss!.handle, total!.handle],
    meta: [1, 0, n, r.C, r.step, ign(a.ignoreIndex), f32Bits(a.labelSmoothing), REDUCTION[a.reduction], ...weightMeta(w), stats!.offset, loss!.offset, total!.offset, ...walkX],
    workgroups: 1,
  };
  return [statsProgram, lossProgram];
}) as WebGPUKernel<ClassLossAttrs>);

// inputs [input, target, stats, totalWeight, upstream, weight?, exps?]; output [gradInput], a workgroup per row:
// d loss / d x[c] = (softmax[c]·((1-ε)·w[y] + (ε/C)·Σw) - (1-ε)·w[y]·[c = y] - (ε/C)·w[c]) · scale
registerKernel('crossEntropyBackward', 'webgpu', ((inputs, [gx], a) => {
  const [x, t, stats, total, g] = inputs;
  const w = inputs.length > (a.saveExps ? 6 : 5) ? inputs[5] : undefined;
  const exps = a.saveExps ? inputs.at(-1) : undefined;
  const r = rows(x!);
  const o = rows(gx!);
  const n = numelOf(r.positions);
  // [rows, slot, C, x class step, gx class step, ignoreIndex, ε, reduction, weight offset and
  // stride, stats offset, total offset, exps offset, walk(x, target, upstream, gx)]
  const meta = [
    n, 0, r.C, r.step, o.step, ign(a.ignoreIndex), f32Bits(a.labelSmoothing), REDUCTION[a.reduction], ...weightMeta(w), stats!.offset, total!.offset, exps?.offset ?? 0,
    ...positionWalk(r.positions, [{ offset: x!.offset, strides: r.strides }, t!, upstream(g!, r.positions), { offset: gx!.offset, strides: o.strides }]),
  ];
  const wgsl = () => `${preamble([x!.dtype, 'int32', stats!.dtype, total!.dtype, g!.dtype, ...(w ? [w.dtype] : []), ...(exps ? [exps.dtype] : [])], [gx!.dtype], true)}
var<workgroup> sv: array<f32, WG>;
${weightFn(w, 5, 8)}
${hasWeight(w)}
${MAIN}
  let row = wid(w, nw);
  if (row >= md[0]) { return; }
  ${walk(4, '13u', 'row')}
  let C = md[2]; let sx = md[3]; let so = md[4]; let ig = bitcast<i32>(md[5]); let eps = bitcast<f32>(md[6]); let red = md[7];
  let og = o3;
  let y = in1[o1];
  let keep = y != ig && y >= 0 && y < i32(C);
  if (!keep && y != ig && l == 0u) { report(y, row); }
  ${rowGradient(true, 'out0', 'in2[md[10] + 2u * row]', 'in2[md[10] + 2u * row + 1u]', 'in4[o2]', 'in3[md[11]]', 'in0', exps && { b: `in${w ? 6 : 5}`, o: '12u', p: 'row' })}
}`;
  return [{
    key: `crossEntropyBackward:${!!w}:${!!exps}`, wgsl, inputs: [x!, t!, stats!, total!, g!, ...(w ? [w] : []), ...(exps ? [exps] : [])].map((v) => v.handle), outputs: [gx!.handle],
    meta, workgroups: n, errors: targetError('crossEntropy', r.C, a.ignoreIndex, t!.shape, a.report),
  }];
}) as WebGPUKernel<ClassLossAttrs>);

/**
 * crossEntropy and its backward as one dispatch (compile's combined groups, fuse.ts): one
 * workgroup runs the three passes in turn, a thread per row in each; a row's reductions (its
 * max, Σ exp, Σ w) replay the order of eager's workgroup per row (rowReduce), and the losses
 * pass is eager's own, so the values are eager's bits. Storage barriers hand the statistics and
 * the total weight from pass to pass. One workgroup's threads take 256 rows at a time: past
 * `COMBINED_ROWS` positions (or for other dtypes than float32) the eager kernels stay.
 * Inputs [input, target, upstream, weight?]; outputs [loss, stats, totalWeight, gradInput, exps?]
 * (with `saveExps` the stats pass stores them and the gradient's pass reads them, as eager's).
 *
 * With `linear` (the last linear layer, whose output only the loss reads: `logits` = x·wᵀ + b,
 * 2-d), a first pass computes the logits, a thread per element, each summed over k in order
 * from 0 with the bias added last, as eager's matmul does, and stores them; the loss passes then
 * read them back (`x` is the loss's view of them). Within `LINEAR_CE` bounds: one workgroup
 * does all the products, which suits a classifier's head, not a large layer.
 */
export const COMBINED_ROWS = 4096;
/** The largest classes, hidden size (k) and multiply-adds of a linear layer computed in the loss's workgroup. */
export const LINEAR_CE = { classes: 256, hidden: 1024, products: 1 << 24 };
export interface LinearOperands {
  readonly x: GpuView;
  readonly w: GpuView;
  readonly b: GpuView | undefined;
  readonly logits: GpuView;
}
export function crossEntropyCombined([x, t, g, w]: readonly (GpuView | undefined)[], [loss, stats, total, gx, exps]: readonly (GpuView | undefined)[], a: ClassLossAttrs, linear?: LinearOperands): Program {
  const r = rows(x!);
  const o = rows(gx!);
  const n = numelOf(r.positions);
  // [1, slot, rows, C, x class step, gx class step, ignoreIndex, ε, reduction, weight offset and
  // stride, stats offset, loss offset, total offset, walk(x, target, upstream, gx)]
  const meta = [
    1, 0, n, r.C, r.step, o.step, ign(a.ignoreIndex), f32Bits(a.labelSmoothing), REDUCTION[a.reduction], ...weightMeta(w), stats!.offset, loss!.offset, total!.offset,
    ...positionWalk(r.positions, [{ offset: x!.offset, strides: r.strides }, t!, upstream(g!, r.positions), { offset: gx!.offset, strides: o.strides }]),
  ];
  // the linear layer's words follow the walk: [rows, classes, k, x offset, row and k strides, w offset, class and k strides, bias offset and stride, logits offset, row and class strides]
  const lin = meta.length;
  const L = (q: number) => `md[${lin + q}u]`;
  const wb = w ? 4 : 3; // the linear's weight (and bias) bind after the loss's inputs
  if (linear) {
    const { x: lx, w: lw, b: lb, logits } = linear;
    meta.push(lx.shape[0]!, lw.shape[0]!, lw.shape[1]!, lx.offset, ...lx.strides, lw.offset, ...lw.strides, lb?.offset ?? 0, lb?.strides[0] ?? 0, logits.offset, ...logits.strides);
  }
  const X = linear ? 'out4' : 'in0';
  // the exps' offset follows, and their binding the other outputs
  const E = exps && { b: `out${linear ? 5 : 4}`, o: `${meta.length}u`, p: 'p' };
  if (exps) meta.push(exps.offset);
  const wgsl = () => `${preamble(['float32', 'int32', g!.dtype, ...(w ? [w.dtype] : []), ...(linear ? ['float32' as const, ...(linear.b ? ['float32' as const] : [])] : [])], [loss!.dtype, stats!.dtype, total!.dtype, 'float32', ...(linear ? ['float32' as const] : []), ...(exps ? ['float32' as const] : [])], true)}
var<workgroup> sv: array<f32, WG>;
var<workgroup> sa: array<f32, WG>;
var<workgroup> sw: array<f32, WG>;
${weightFn(w, 3, 9)}
${hasWeight(w)}
${MAIN}
  let rows = md[2]; let C = md[3]; let sx = md[4]; let so = md[5]; let ig = bitcast<i32>(md[6]); let eps = bitcast<f32>(md[7]); let red = md[8];
  let st = md[11];
  ${
    linear
      ? `for (var e = l; e < ${L(0)} * ${L(1)}; e += WG) {
    let i = e / ${L(1)}; let c = e % ${L(1)};
    var acc = f32(0);
    for (var kk = 0u; kk < ${L(2)}; kk++) { acc += in0[${L(3)} + i * ${L(4)} + kk * ${L(5)}] * in${wb}[${L(6)} + c * ${L(7)} + kk * ${L(8)}]; }
    out4[${L(11)} + i * ${L(12)} + c * ${L(13)}] = ${linear.b ? `acc + in${wb + 1}[${L(9)} + c * ${L(10)}]` : 'acc'};
  }
  storageBarrier();`
      : ''
  }
  // a thread per row (p = l, l + WG, ...) in each pass, each pass's reductions over a row in the
  // order eager's workgroup per row takes; the losses pass is eager's own (a thread per row too)
  var rv: array<f32, WG>;
  for (var p = l; p < rows; p += WG) {
    ${walk(2, '14u', 'p')}
    let y = in1[o1];
    let keep = y != ig && y >= 0 && y < i32(C);
    if (!keep && y != ig) { report(y, p); }
    ${rowStats(false, X)}
    ${E ? storeExps(false, E.b, E.o, 'p', X) : ''}
    out1[st + 2u * p] = select(0.0, mx, keep);
    out1[st + 2u * p + 1u] = select(0.0, log(se), keep);
  }
  storageBarrier();
  {
    ${positionLosses(walk(2, '14u', 'p'), (q) => `out1[st + ${q}]`, (v) => `out0[md[12] + p] = ${v};`, X)}
    if (l == 0u) {
      out2[md[13]] = sw[0];
      if (red != 0u) { out0[md[12]] = select(sa[0], sa[0] / sw[0], red == 2u); }
    }
  }
  storageBarrier();
  for (var p = l; p < rows; p += WG) {
    ${walk(4, '14u', 'p')}
    let og = o3;
    let y = in1[o1];
    let keep = y != ig && y >= 0 && y < i32(C);
    ${rowGradient(false, 'out3', 'out1[st + 2u * p]', 'out1[st + 2u * p + 1u]', 'in2[o2]', 'out2[md[13]]', X, E)}
  }
}`;
  const operands = [linear ? linear.x : x!, t!, g!, ...(w ? [w] : []), ...(linear ? [linear.w, ...(linear.b ? [linear.b] : [])] : [])];
  return {
    key: `crossEntropy:combined:${!!w}${linear ? `:linear${lin}:${!!linear.b}` : ''}:${!!exps}`, wgsl, inputs: operands.map((v) => v.handle),
    outputs: [loss!, stats!, total!, gx!, ...(linear ? [linear.logits] : []), ...(exps ? [exps] : [])].map((v) => v.handle),
    meta, workgroups: 1, errors: targetError('crossEntropy', r.C, a.ignoreIndex, t!.shape, a.report),
  };
}

// nllLoss over log-probabilities: loss[p] = -w[y]·x[p, y]. One workgroup, a thread per row, then
// a tree sum. inputs [input, target, weight?]; outputs [loss, totalWeight]
registerKernel('nllLoss', 'webgpu', (([x, t, w], [loss, total], a) => {
  const r = rows(x!);
  const n = numelOf(r.positions);
  // [1, slot, rows, C, class step, ignoreIndex, reduction, weight offset and stride, loss offset, total offset, walk(x, target)]
  const meta = [1, 0, n, r.C, r.step, ign(a.ignoreIndex), REDUCTION[a.reduction], ...weightMeta(w), loss!.offset, total!.offset,
    ...positionWalk(r.positions, [{ offset: x!.offset, strides: r.strides }, t!])];
  const wgsl = () => `${preamble([x!.dtype, 'int32', ...(w ? [w.dtype] : [])], [loss!.dtype, total!.dtype], true)}
var<workgroup> sa: array<f32, WG>;
var<workgroup> sw: array<f32, WG>;
${weightFn(w, 2, 7)}
${MAIN}
  let rows = md[2]; let C = md[3]; let sx = md[4]; let ig = bitcast<i32>(md[5]); let red = md[6];
  var acc = 0.0; var W = 0.0;
  for (var p = l; p < rows; p += WG) {
    ${walk(2, '11u', 'p')}
    let y = in1[o1];
    var lp = 0.0;
    if (y != ig) {
      if (y < 0 || y >= i32(C)) { report(y, p); } else {
        let wy = wt(u32(y));
        lp = -wy * in0[o0 + u32(y) * sx];
        W += wy;
      }
    }
    acc += lp;
    if (red == 0u) { out0[md[9] + p] = lp; }
  }
  sa[l] = acc; sw[l] = W;
  ${tree('sa', (p, q) => `${p} + ${q}`)}
  ${tree('sw', (p, q) => `${p} + ${q}`)}
  if (l == 0u) {
    out1[md[10]] = sw[0];
    if (red != 0u) { out0[md[9]] = select(sa[0], sa[0] / sw[0], red == 2u); }
  }
}`;
  return [{
    key: `nllLoss:${!!w}`, wgsl, inputs: [x!, t!, ...(w ? [w] : [])].map((v) => v.handle), outputs: [loss!.handle, total!.handle],
    meta, workgroups: 1, errors: targetError('nllLoss', r.C, a.ignoreIndex, t!.shape),
  }];
}) as WebGPUKernel<ClassLossAttrs>);

// Only gradInput[p, y] is nonzero: -w[y]·upstream (/ totalWeight under 'mean'); a thread per
// element of gradInput (contiguous, the input's shape). inputs [target, totalWeight, upstream, weight?]
registerKernel('nllLossBackward', 'webgpu', (([t, total, g, w], [gx], a) => {
  const shape = gx!.shape;
  const cd = shape.length === 1 ? 0 : 1;
  const positions = shape.filter((_, i) => i !== cd);
  const inner = numelOf(shape.slice(cd + 1));
  const n = numelOf(shape);
  // [n, slot, C, inner, ignoreIndex, reduction, weight offset and stride, total offset, gx offset, walk(target, upstream)]
  const meta = [n, 0, shape[cd]!, inner, ign(a.ignoreIndex), REDUCTION[a.reduction], ...weightMeta(w), total!.offset, gx!.offset,
    ...positionWalk(positions, [t!, { offset: g!.offset, strides: broadcastStrides(g!, positions) }])];
  const wgsl = () => `${preamble(['int32', total!.dtype, g!.dtype, ...(w ? [w.dtype] : [])], [gx!.dtype], true)}
${weightFn(w, 3, 6)}
${MAIN}
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }
  let C = md[2]; let inner = md[3];
  let c = (i / inner) % C;
  let p = (i / (C * inner)) * inner + i % inner;
  ${walk(2, '10u', 'p')}
  let y = in0[o0];
  var v = 0.0;
  if (y != bitcast<i32>(md[4])) {
    if (y < 0 || y >= i32(C)) { if (c == 0u) { report(y, p); } }
    else if (u32(y) == c) { v = -wt(c) * in2[o1] / select(1.0, in1[md[8]], md[5] == 2u); }
  }
  out0[md[9] + i] = v;
}`;
  return [{
    key: `nllLossBackward:${!!w}`, wgsl, inputs: [t!, total!, g!, ...(w ? [w] : [])].map((v) => v.handle), outputs: [gx!.handle],
    meta, workgroups: Math.ceil(n / WORKGROUP), errors: targetError('nllLoss', shape[cd]!, a.ignoreIndex, t!.shape),
  }];
}) as WebGPUKernel<ClassLossAttrs>);

// binaryCrossEntropy's input check (the op and its CPU kernel live in @tapegrad/nn's
// losses/binary.ts): a thread per element reports one outside [0, 1], NaN included, and every
// read of the loss (computed from the check's output) throws the CPU kernel's ValueError. The
// CPU names the first bad element in index order; with several, the GPU names whichever thread
// got there first.
const f32Of = (bits: number) => new Float32Array(new Int32Array([bits]).buffer)[0]!;

// inputs [input]; output [a 0-d int32, written 0]
registerKernel('binaryCrossEntropyCheck', 'webgpu', (([x], [ok]) => {
  const n = numelOf(x!.shape);
  const co = coalesce(x!.shape, [x!.strides]);
  // [n, slot, ok offset, walk(input)]
  const meta = [n, 0, ok!.offset, ...walkMeta(co.shape, [{ offset: x!.offset, strides: co.strides[0]! }])];
  const wgsl = () => `${preamble([x!.dtype], [ok!.dtype], true)}
${MAIN}
  let i = wid(w, nw) * WG + l;
  if (i == 0u) { out0[md[2]] = 0; }
  if (i >= md[0]) { return; }
  ${walk(1, '3u', 'i')}
  let v = in0[o0];
  if (nan_f32(v) || v < 0.0 || v > 1.0) { report(bitcast<i32>(v), i); }
}`;
  const errors = (bits: number, at: number) => probabilityInputError(f32Of(bits), true, at, x!.shape);
  return [{ key: 'binaryCrossEntropyCheck', wgsl, inputs: [x!.handle], outputs: [ok!.handle], meta, workgroups: Math.max(1, Math.ceil(n / WORKGROUP)), errors }];
}) as WebGPUKernel);
