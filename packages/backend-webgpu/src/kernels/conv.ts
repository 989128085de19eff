import { getKernel, registerKernel, type Shape, type Conv2dAttrs } from '@tapegrad/tensor';
import type { Epilogue } from '../fuse.js';
import { SHORT } from './reduce.js';
import { numelOf, preamble, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';
import type { Extra, Stored } from './matmul.js';

// conv2d and its two gradients as direct convolutions (op definitions and the gradient rule:
// @tapegrad/nn's ops/conv.ts). forward: a thread per output position and run of CONV_TILE
// output channels, each input element loaded once for the run; input grad: a thread per
// input element, gathering from the outputs that read it (no float atomics in WGSL, and the
// order is fixed); weight grad: a workgroup per weight element, its threads striding over the
// output rows of the batch (each row's columns in turn), then a tree in workgroup memory. Any
// strides and offsets.
//
// On llvmpipe (lavapipe), the software adapter this backend is tested on, every md[...] read in a
// loop is a load per step, as is every buffer load whose address differs between invocations, so
// the loops read no metadata: each operand's strides and each loop level's base address are
// locals computed once; an inner step loads each element once (the forward's input element
// serves its run of channels) and does no index arithmetic beyond an add and a multiply. Each
// output element's sum runs in the same order as in eager mode (compiled and eager agree bit
// for bit).


// [n, slot, N, Cin, H, W, Cout, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, groups, then per operand its offset and 4 strides from 18]
function meta(n: number, x: Shape, w: Shape, out: Shape, a: Conv2dAttrs, operands: (GpuView | undefined)[]): number[] {
  return [n, 0, x[0]!, x[1]!, x[2]!, x[3]!, w[0]!, out[2]!, out[3]!, w[2]!, w[3]!, ...a.stride, ...a.padding, ...a.dilation, a.groups,
    ...operands.flatMap((v) => (v ? [v.offset, ...v.strides, 0, 0, 0].slice(0, 5) : [0, 0, 0, 0, 0]))];
}
const HELPERS = (ins: readonly GpuView[], outs: readonly GpuView[], workgroupPerItem = false, epi = '', extra = 0) => `${preamble([...ins.map((v) => v.dtype), ...Array<'u32'>(extra).fill('u32')], outs.map((v) => v.dtype))}
${epi}
// operand k's element [a, b, y, x]
fn at(k: u32, a: u32, b: u32, y: i32, x: i32) -> u32 {
  let o = 18u + 5u * k;
  return md[o] + a * md[o + 1u] + b * md[o + 2u] + u32(y) * md[o + 3u] + u32(x) * md[o + 4u];
}
// operand k's 4 strides
fn strides(k: u32) -> vec4u {
  let o = 18u + 5u * k;
  return vec4u(md[o + 1u], md[o + 2u], md[o + 3u], md[o + 4u]);
}
${workgroupPerItem ? 'var<workgroup> sv: array<f32, WG>;' : ''}`;
const GEOMETRY = `let N = md[2]; let Cin = md[3]; let H = i32(md[4]); let W = i32(md[5]); let Cout = md[6]; let OH = i32(md[7]); let OW = i32(md[8]);
  let kh = i32(md[9]); let kw = i32(md[10]); let sh = i32(md[11]); let sw = i32(md[12]); let ph = i32(md[13]); let pw = i32(md[14]);
  let dh = i32(md[15]); let dw = i32(md[16]); let G = md[17]; let cinG = Cin / G; let coutG = Cout / G;`;
const HEAD = (ins: readonly GpuView[], outs: readonly GpuView[], workgroupPerItem = false, epi = '', extra = 0) => `${HELPERS(ins, outs, workgroupPerItem, epi, extra)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = ${workgroupPerItem ? 'wid(wg, nw)' : 'wid(wg, nw) * WG + l'};
  if (i >= md[0]) { return; }
  ${GEOMETRY}`;

// inputs: x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], optional bias [Cout]
/** Output channels (of one group) each conv2d thread computes: each input element it loads serves that many. */
const CONV_TILE = 4;
/** A max pool run in conv2d's shader (a compiled step's combined group): its outputs, and its window, which is its stride. */
export interface ConvPool {
  readonly out: GpuView;
  readonly idx: GpuView;
  readonly size: readonly number[];
}
/**
 * conv2d's shader; with an epilogue (a compiled function's fused group), each value passes
 * through it on its way to the (dense) output. With a pool (windows that tile the output: stride
 * = size, no padding), a thread computes the outputs of one window instead of one position (the
 * last window of a row or column also those past it that no window takes), stores each, and the
 * window's maximum and its index as eager's maxPool2d finds them, in the same order.
 */
export function conv2dProgram([x, w, b]: readonly GpuView[], out: GpuView, a: Conv2dAttrs, epi?: Epilogue, pool?: ConvPool): Program {
  const own = b ? [x!, w!, b] : [x!, w!];
  // a thread per output position (or pooled window) and run of TC channels of one group (the last run of a group clipped)
  const coutG = w!.shape[0]! / a.groups, TC = Math.min(CONV_TILE, coutG), runs = Math.ceil(coutG / TC);
  const positions = pool ? pool.out.shape[2]! * pool.out.shape[3]! : out.shape[2]! * out.shape[3]!;
  const n = out.shape[0]! * a.groups * runs * positions;
  const m = meta(n, x!.shape, w!.shape, out.shape, a, [x!, w!, b, out, ...(pool ? [pool.out, pool.idx] : [])]);
  const epiBase = m.length;
  if (epi) m.push(...epi.meta(out));
  const ts = [...Array(TC).keys()];
  const [pkh, pkw] = pool?.size ?? [1, 1];
  // output (oy, ox)'s channels of the run: summed as eager sums them, stored, and (with a pool) taken into the window's maximum if inside it
  const position = `let y0 = oy * sh - ph; let x0 = ox * sw - pw;
  ${ts.map((t) => `var acc${t} = 0.0;`).join(' ')}
  for (var ci = 0u; ci < cinG; ci++) {
    let xc = xb + ci * xs.y; let wc = ci * ws.y;
    for (var ki = 0; ki < kh; ki++) {
      let iy = y0 + ki * dh;
      if (iy < 0 || iy >= H) { continue; }
      let xr = xc + u32(iy) * xs.z; let wr = wc + u32(ki) * ws.z;
      for (var kj = 0; kj < kw; kj++) {
        let jx = x0 + kj * dw;
        if (jx < 0 || jx >= W) { continue; }
        let v = in0[xr + u32(jx) * xs.w]; let wk = wr + u32(kj) * ws.w;
        ${ts.map((t) => `acc${t} += v * in1[wb${t} + wk];`).join(' ')}
      }
    }
  }
  ${ts.map((t) => `if (${t}u < nc) {
    let co = cb + ${t}u;
    ${b ? `acc${t} += in2[md[28] + co * md[29]];` : ''}
    let r${t} = ${epi ? `epilogue(acc${t}, ((s * Cout + co) * u32(OH) + u32(oy)) * u32(OW) + u32(ox))` : `acc${t}`};
    out0[at(3u, s, co, oy, ox)] = r${t};
    ${pool ? `if (inside && (r${t} > best${t} || nan_f32(r${t}) || arg${t} < 0)) { best${t} = r${t}; arg${t} = oy * OW + ox; }` : ''}
  }`).join('\n  ')}`;
  const wgsl = () => `${HEAD(own, [out, ...(pool ? [pool.out, pool.idx] : [])], false, epi ? `alias C = f32;\n${epi.wgsl(epiBase, own.length)}` : '', epi?.inputs.length ?? 0)}
  let PW = u32(OW) / ${pkw}u; let PH = u32(OH) / ${pkh}u;
  let px = i % PW; let py = (i / PW) % PH; let p = i / (PW * PH);
  let rn = p % ${runs}u; let g = (p / ${runs}u) % G; let s = p / ${runs}u / G;
  let cb = g * coutG + rn * ${TC}u; let nc = min(${TC}u, coutG - rn * ${TC}u);
  let xs = strides(0u); let ws = strides(1u);
  let xb = at(0u, s, g * cinG, 0, 0);
  // channels past the group's end read its last channel's weights and are not stored
  ${ts.map((t) => `let wb${t} = at(1u, cb + min(${t}u, nc - 1u), 0u, 0, 0);`).join('\n  ')}
  ${pool ? `${ts.map((t) => `var best${t} = -inf(); var arg${t} = -1;`).join(' ')}
  let ya = py * ${pkh}u; let yb = select(ya + ${pkh}u, u32(OH), py == PH - 1u);
  let xa = px * ${pkw}u; let xe = select(xa + ${pkw}u, u32(OW), px == PW - 1u);
  for (var yy = ya; yy < yb; yy++) {
    for (var xx = xa; xx < xe; xx++) {
      let oy = i32(yy); let ox = i32(xx); let inside = yy < ya + ${pkh}u && xx < xa + ${pkw}u;
      ${position}
    }
  }
  ${ts.map((t) => `if (${t}u < nc) { out1[at(4u, s, cb + ${t}u, i32(py), i32(px))] = best${t}; out2[at(5u, s, cb + ${t}u, i32(py), i32(px))] = arg${t}; }`).join('\n  ')}`
    : `let oy = i32(py); let ox = i32(px);
  ${position}`}
}`;
  const handles = [...own, ...(epi?.inputs ?? [])].map((v) => v.handle);
  const outputs = [out, ...(pool ? [pool.out, pool.idx] : [])].map((v) => v.handle);
  return { key: `conv2d:${!!b}:${TC}x${runs}${pool ? `:pool${pkh}x${pkw}` : ''}${epi ? `:${epi.key}` : ''}`, wgsl, inputs: handles, outputs, meta: m, workgroups: Math.ceil(n / WORKGROUP) };
}
registerKernel('conv2d', 'webgpu', ((inputs, [out], a) => [conv2dProgram(inputs, out!, a)]) as WebGPUKernel<Conv2dAttrs>);

// inputs: grad of the output [N, Cout, OH, OW], weight; attrs.shape: the input's shape
/** conv2dInputGrad's sum for input element i (s, ci, iy, jx) into `acc`: G and the weight are operands (and bindings) kg and kw. */
const inputGrad = (kg: number, kw: number) => `let jx = i32(i % u32(W)); let iy = i32((i / u32(W)) % u32(H)); let ci = (i / u32(W * H)) % Cin; let s = i / u32(W * H) / Cin;
  let grp = ci / cinG; let cl = ci % cinG;
  let gs = strides(${kg}u); let ws = strides(${kw}u);
  let c0 = grp * coutG; let c1 = c0 + coutG;
  let gb = at(${kg}u, s, c0, 0, 0); let wb = at(${kw}u, c0, cl, 0, 0);
  var acc = 0.0;
  for (var ki = 0; ki < kh; ki++) {
    let ty = iy + ph - ki * dh;
    if (ty < 0 || ty % sh != 0 || ty / sh >= OH) { continue; }
    for (var kj = 0; kj < kw; kj++) {
      let tx = jx + pw - kj * dw;
      if (tx < 0 || tx % sw != 0 || tx / sw >= OW) { continue; }
      var ga = gb + u32(ty / sh) * gs.z + u32(tx / sw) * gs.w; var wa = wb + u32(ki) * ws.z + u32(kj) * ws.w;
      for (var co = c0; co < c1; co++) {
        acc += in${kg}[ga] * in${kw}[wa];
        ga += gs.y; wa += ws.x;
      }
    }
  }`;
registerKernel('conv2dInputGrad', 'webgpu', (([g, w], [dx], a) => {
  const n = numelOf(dx!.shape);
  const wgsl = () => `${HEAD([g!, w!], [dx!])}
  ${inputGrad(0, 1)}
  out0[at(2u, s, ci, iy, jx)] = acc;
}`;
  // geometry from the input's shape (attrs.shape = dx's), the weight and the output grad
  return [{ key: 'conv2dInputGrad', wgsl, inputs: [g!.handle, w!.handle], outputs: [dx!.handle], meta: meta(n, dx!.shape, w!.shape, g!.shape, a, [g!, w!, dx!]), workgroups: Math.ceil(n / WORKGROUP) }];
}) as WebGPUKernel<Conv2dAttrs>);

// inputs: x, grad of the output; attrs.shape: the weight's shape
/**
 * conv2dWeightGrad's workgroup for item i, a weight element, or with kdb a bias channel past
 * them, summed as eager's sum does (a line of more than SHORT elements strided over the workgroup
 * then a tree, a shorter one serially): x and G are operands (and input bindings) kx and kg, dW
 * operand kdw (output odw), the bias kdb (output odb). `stored(q, e, v)`: WGSL run by the thread that
 * stored element e of the weight (q 0) or bias (q 1) gradient, its final value, read back as v.
 */
const weightGrad = (kx: number, kg: number, kdw: number, odw: number, kdb?: number, odb?: number, stored?: (q: number, e: string, v: string) => string) => `  var acc = 0.0;
  ${kdb !== undefined ? `if (i >= md[0] - Cout) {
    let co = i - (md[0] - Cout);
    let L = u32(OH * OW); let NL = N * L;
    if (NL > ${SHORT}u || l == 0u) {
      let step = select(1u, WG, NL > ${SHORT}u);
      let gs = strides(${kg}u); let gb = at(${kg}u, 0u, co, 0, 0); let uOW = u32(OW);
      for (var q = select(0u, l, NL > ${SHORT}u); q < NL; q += step) { acc += in${kg}[gb + (q / L) * gs.x + ((q % L) / uOW) * gs.z + (q % uOW) * gs.w]; }
    }
  } else {` : '{'}
  let kj = i32(i % u32(kw)); let ki = i32((i / u32(kw)) % u32(kh)); let cl = (i / u32(kw * kh)) % cinG; let co = i / u32(kw * kh) / cinG;
  let ci = (co / coutG) * cinG + cl;
  let xs = strides(${kx}u); let gs = strides(${kg}u);
  let xb = at(${kx}u, 0u, ci, 0, 0); let gb = at(${kg}u, 0u, co, 0, 0);
  let yk = ki * dh - ph; let xk = kj * dw - pw;
  // the output columns whose input column ox·sw + xk lies in [0, W): no test per step
  let ox0 = select(0, (sw - 1 - xk) / sw, xk < 0); let ox1 = min(OW, select(0, (W - xk + sw - 1) / sw, W > xk));
  let xstep = u32(sw) * xs.w; let R = N * u32(OH);
  for (var r = l; r < R; r += WG) {
    let s = r / u32(OH); let oy = i32(r % u32(OH));
    let iy = oy * sh + yk;
    if (iy < 0 || iy >= H) { continue; }
    var ga = gb + s * gs.x + u32(oy) * gs.z + u32(ox0) * gs.w; var xa = xb + s * xs.x + u32(iy) * xs.z + u32(ox0 * sw + xk) * xs.w;
    for (var ox = ox0; ox < ox1; ox++) {
      acc += in${kg}[ga] * in${kx}[xa];
      ga += gs.w; xa += xstep;
    }
  }
  }
  sv[l] = acc;
  workgroupBarrier();
  for (var t = WG / 2u; t > 0u; t = t >> 1u) { if (l < t) { sv[l] = sv[l] + sv[l + t]; } workgroupBarrier(); }
  if (l == 0u) {
    ${kdb !== undefined ? `if (i >= md[0] - Cout) {
      let co = i - (md[0] - Cout); let sa = at(${kdb}u, co, 0u, 0, 0);
      out${odb}[sa] = sv[0];
      ${stored ? `let so = out${odb}[sa]; ${stored(1, 'co', 'so')}` : ''}
      return;
    }` : ''}
    let kj = i32(i % u32(kw)); let ki = i32((i / u32(kw)) % u32(kh)); let cl = (i / u32(kw * kh)) % cinG; let co = i / u32(kw * kh) / cinG;
    let sa = at(${kdw}u, co, cl, ki, kj);
    out${odw}[sa] = sv[0];
    ${stored ? `let so = out${odw}[sa]; ${stored(0, 'i', 'so')}` : ''}
  }
`;
/**
 * conv2d's weight gradient; with `db` (a compiled step's bias gradient, the sum of the output's
 * gradient over all but its channel dim), Cout more workgroups sum it. With `opt` (a compiled
 * step's optimizer, optim.ts' foreachBeside; dW and db dense): each weight and bias element is
 * final in the one thread that stores it (a workgroup's tree), which then updates its parameter
 * (`stored`); workgroups past the gradients' run `extra`.
 */
export function conv2dWeightGradProgram(x: GpuView, g: GpuView, dw: GpuView, a: Conv2dAttrs, db?: GpuView, opt?: { stored: Stored; extra: Extra }): Program {
  const n = numelOf(dw.shape);
  const total = n + (db ? dw.shape[0]! : 0);
  const m = meta(total, x.shape, dw.shape, g.shape, a, [x, g, dw, db]);
  const base = m.length, outAt = db ? 2 : 1;
  if (opt) m.push(...opt.extra.meta);
  const stored = opt && ((q: number, e: string, v: string) => opt.stored(q, e, v, { base, inAt: 2, outAt }));
  const wgsl = () => `${HELPERS([x, g, ...(opt?.extra.inputs ?? [])], [dw, ...(db ? [db] : []), ...(opt?.extra.outputs ?? [])], true)}
${opt?.extra.wgsl(base, 2, outAt) ?? ''}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(wg, nw);
  if (i >= md[0]) { ${opt ? 'extra(i - md[0], l);' : ''} return; }
  ${GEOMETRY}
  ${db ? weightGrad(0, 1, 2, 0, 3, 1, stored) : weightGrad(0, 1, 2, 0)}
}`;
  return {
    key: `conv2dWeightGrad${db ? ':bias' : ''}${opt ? `|${opt.extra.key}` : ''}`,
    wgsl,
    inputs: [x, g, ...(opt?.extra.inputs ?? [])].map((v) => v.handle),
    outputs: [dw, ...(db ? [db] : []), ...(opt?.extra.outputs ?? [])].map((v) => v.handle),
    meta: m,
    workgroups: total + (opt?.extra.groups ?? 0),
  };
}

/** A max pool's backward run in the store of its input's gradient (a compiled step's combined group): its indices, its output, its window (= its stride), its epilogue. */
export interface PoolScatter {
  readonly idx: GpuView;
  readonly dx: GpuView;
  readonly size: readonly number[];
  readonly epi?: Epilogue;
}
/**
 * A convolution's three gradients in one dispatch (a compiled step's 'convBackward' group): the
 * first workgroups run conv2dInputGrad's threads, the rest conv2dWeightGrad's workgroups and the
 * bias's sums, each computed as its eager kernel computes it. With a pool (a max pool whose
 * output dx is, over windows that tile its input), each thread then writes its element's whole
 * window of the pool's input gradient: its value where the pool's index points, 0 elsewhere, as
 * eager's maxPool2dBackward sums them (the last window of a row or column also the positions past
 * it that no window takes), through the pool's epilogue.
 */
export function convBackwardProgram(g: GpuView, w: GpuView, x: GpuView, dx: GpuView, dw: GpuView, db: GpuView, a: Conv2dAttrs, pool?: PoolScatter): Program {
  const nx = numelOf(dx.shape), A = Math.ceil(nx / WORKGROUP), total = numelOf(dw.shape) + dw.shape[0]!;
  const ins = [g, w, x, ...(pool ? [pool.idx] : [])], outs = [dx, dw, db, ...(pool ? [pool.dx] : [])];
  // operands: g, w, x, dx, dw, db, idx, the pool's dx (18 + 5·8 = 58); then dx's count, its workgroups, the pool input's height and width
  const m = [...meta(total, x.shape, w.shape, g.shape, a, [g, w, x, dx, dw, db, pool?.idx, pool?.dx]), nx, A, pool?.dx.shape[2] ?? 0, pool?.dx.shape[3] ?? 0];
  const epi = pool?.epi, epiBase = m.length;
  if (epi) m.push(...epi.meta(pool!.dx));
  const [pkh, pkw] = pool?.size ?? [1, 1];
  const scatter = `let PIH = md[60]; let PIW = md[61];
  let ya = u32(iy) * ${pkh}u; let yb = select(ya + ${pkh}u, PIH, iy == H - 1);
  let xa = u32(jx) * ${pkw}u; let xe = select(xa + ${pkw}u, PIW, jx == W - 1);
  let m = in3[at(6u, s, ci, iy, jx)];
  for (var yy = ya; yy < yb; yy++) {
    for (var xx = xa; xx < xe; xx++) {
      var v = 0.0;
      if (i32(yy * PIW + xx) == m) { v += acc; }
      out3[at(7u, s, ci, i32(yy), i32(xx))] = ${epi ? 'epilogue(v, ((s * Cin + ci) * PIH + yy) * PIW + xx)' : 'v'};
    }
  }`;
  const wgsl = () => `${HELPERS(ins, outs, true, epi ? `alias C = f32;\n${epi.wgsl(epiBase, ins.length)}` : '', epi?.inputs.length ?? 0)}
fn input_grad(i: u32) {
  if (i >= md[58]) { return; }
  ${GEOMETRY}
  ${inputGrad(0, 1)}
  out0[at(3u, s, ci, iy, jx)] = acc;
  ${pool ? scatter : ''}
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let u = wid(wg, nw);
  if (u < md[59]) { input_grad(u * WG + l); return; }
  let i = u - md[59];
  if (i >= md[0]) { return; }
  ${GEOMETRY}
  ${weightGrad(2, 0, 4, 1, 5, 2)}
}`;
  const key = `convBackward${pool ? `:pool${pkh}x${pkw}` : ''}${epi ? `:${epi.key}` : ''}`;
  return { key, wgsl, inputs: [...ins, ...(epi?.inputs ?? [])].map((v) => v.handle), outputs: outs.map((v) => v.handle), meta: m, workgroups: A + total };
}
registerKernel('conv2dWeightGrad', 'webgpu', (([x, g], [dw], a) => [conv2dWeightGradProgram(x!, g!, dw!, a)]) as WebGPUKernel<Conv2dAttrs>);

// convTranspose2d (issue 16; definition and gradient: @tapegrad/nn's ops/conv.ts) is conv2d's
// input gradient, x in the role of the output's gradient: the same kernel and pipeline, whose
// attrs.shape is then the transposed convolution's output shape.
registerKernel('convTranspose2d', 'webgpu', ((inputs, outputs, attrs, op) =>
  (getKernel('conv2dInputGrad', 'webgpu') as WebGPUKernel<Conv2dAttrs>)(inputs, outputs, attrs, op)) as WebGPUKernel<Conv2dAttrs>);
