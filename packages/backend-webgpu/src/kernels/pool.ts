import { registerKernel, type Shape, type Pool2dAttrs } from '@tapegrad/tensor';
import type { Epilogue } from '../fuse.js';
import { numelOf, preamble, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// maxPool2d / avgPool2d and their backward kernels over [N, C, H, W], as the CPU kernels (op
// definitions: @tapegrad/nn's ops/pool.ts). A thread per output element forward; backward, a
// thread per input element gathers from the outputs whose windows hold it, in output order
// (no float atomics in WGSL, and the result is deterministic).


/** Offset and the 4 strides of an [N, C, H, W] view: md words the shaders index by hand. */
const at4 = (v: GpuView) => [v.offset, ...v.strides];
// [n, slot, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, then per operand offset + 4 strides from 15]
function geometryMeta(n: number, input: Shape, output: Shape, a: Pool2dAttrs, operands: GpuView[]): number[] {
  return [n, 0, input[1]!, input[2]!, input[3]!, output[2]!, output[3]!, ...a.kernelSize, ...a.stride, ...a.padding, ...a.dilation, ...operands.flatMap(at4)];
}
const HEAD = `let C = md[2]; let H = i32(md[3]); let W = i32(md[4]); let OH = md[5]; let OW = md[6];
  let kh = i32(md[7]); let kw = i32(md[8]); let sh = i32(md[9]); let sw = i32(md[10]); let ph = i32(md[11]); let pw = i32(md[12]); let dh = i32(md[13]); let dw = i32(md[14]);
  // operand k's element [n, c, y, x]
  `;
const elem = (k: number, nc: string, y: string, x: string) => {
  const b = 15 + 5 * k;
  return `md[${b}u] + (${nc}) + u32(${y}) * md[${b + 3}u] + u32(${x}) * md[${b + 4}u]`;
};
const plane = (k: number) => `(nn * md[${16 + 5 * k}u] + c * md[${17 + 5 * k}u])`;
const MAIN = (ins: GpuView[], outs: GpuView[], epi = '', extra = 0) => `${preamble([...ins.map((v) => v.dtype), ...Array<'u32'>(extra).fill('u32')], outs.map((v) => v.dtype))}
${epi}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(wg, nw) * WG + l;
  if (i >= md[0]) { return; }
  ${HEAD}`;

function program(key: string, wgsl: () => string, inputs: GpuView[], outputs: GpuView[], meta: number[]): Program {
  return { key, wgsl, inputs: inputs.map((v) => v.handle), outputs: outputs.map((v) => v.handle), meta, workgroups: Math.ceil(meta[0]! / WORKGROUP) };
}

// outputs: the maxima and, as int32, each one's flat index h·W + w in its input plane (as torch)
registerKernel('maxPool2d', 'webgpu', (([x], [out, idx], a) => {
  const n = numelOf(out!.shape);
  const meta = geometryMeta(n, x!.shape, out!.shape, a, [x!, out!, idx!]);
  const wgsl = () => `${MAIN([x!], [out!, idx!])}
  let ox = i32(i % OW); let oy = i32((i / OW) % OH); let c = (i / (OW * OH)) % C; let nn = i / (OW * OH * C);
  var best = -inf(); var at = -1;
  for (var ki = 0; ki < kh; ki++) {
    let iy = oy * sh - ph + ki * dh;
    if (iy < 0 || iy >= H) { continue; }
    for (var kj = 0; kj < kw; kj++) {
      let jx = ox * sw - pw + kj * dw;
      if (jx < 0 || jx >= W) { continue; }
      let v = in0[${elem(0, plane(0), 'iy', 'jx')}];
      // as torch's CPU kernel: NaN propagates, and a window's last NaN is its maximum
      if (v > best || nan_f32(v) || at < 0) { best = v; at = iy * W + jx; }
    }
  }
  out0[${elem(1, plane(1), 'oy', 'ox')}] = best;
  out1[${elem(2, plane(2), 'oy', 'ox')}] = at;
}`;
  return [program('maxPool2d', wgsl, [x!], [out!, idx!], meta)];
}) as WebGPUKernel<Pool2dAttrs>);

// inputs: grad of the output, the indices maxPool2d returned; each input element sums the
// gradients of the outputs whose argmax it is
/** maxPool2dBackward's shader; with an epilogue (a compiled function's fused group), each value passes through it on its way to the (dense) output. */
export function maxPool2dBackwardProgram([g, idx]: readonly GpuView[], dx: GpuView, a: Pool2dAttrs, epi?: Epilogue): Program {
  const n = numelOf(dx.shape);
  const meta = geometryMeta(n, dx.shape, g!.shape, a, [g!, idx!, dx]);
  const epiBase = meta.length;
  if (epi) meta.push(...epi.meta(dx));
  // the shader's main has a variable C (channels): the epilogue's type is spelled out in its own scope
  const wgsl = () => `${MAIN([g!, idx!], [dx], epi ? `alias C = f32;\n${epi.wgsl(epiBase, 2)}` : '', epi?.inputs.length ?? 0)}
  let jx = i32(i % u32(W)); let iy = i32((i / u32(W)) % u32(H)); let c = (i / u32(W * H)) % C; let nn = i / u32(W * H) / C;
  let me = iy * W + jx;
  // the outputs whose window can reach (iy, jx): oy·sh - ph <= iy <= oy·sh - ph + (kh-1)·dh
  let y0 = max(0, (iy + ph - (kh - 1) * dh + sh - 1) / sh); let y1 = min(i32(OH) - 1, (iy + ph) / sh);
  let x0 = max(0, (jx + pw - (kw - 1) * dw + sw - 1) / sw); let x1 = min(i32(OW) - 1, (jx + pw) / sw);
  var acc = 0.0;
  for (var oy = y0; oy <= y1; oy++) {
    for (var ox = x0; ox <= x1; ox++) {
      if (in1[${elem(1, plane(1), 'oy', 'ox')}] == me) { acc += in0[${elem(0, plane(0), 'oy', 'ox')}]; }
    }
  }
  out0[${elem(2, plane(2), 'iy', 'jx')}] = ${epi ? 'epilogue(acc, i)' : 'acc'};
}`;
  return program(`maxPool2dBackward${epi ? `:${epi.key}` : ''}`, wgsl, [g!, idx!, ...(epi?.inputs ?? [])], [dx], meta);
}
registerKernel('maxPool2dBackward', 'webgpu', ((inputs, [dx], a) => [maxPool2dBackwardProgram(inputs, dx!, a)]) as WebGPUKernel<Pool2dAttrs>);

// avgPool2d's window of output (oy, ox), clipped, and its divisor, as PyTorch computes them;
// md[15] the divisor override (0 for none), md[16] countIncludePad, operands from md[17]
const WINDOW = `fn window(oy: i32, ox: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32) -> vec4i {
  return vec4i(oy * sh - ph, min(oy * sh - ph + kh, H + ph), ox * sw - pw, min(ox * sw - pw + kw, W + pw));
}
fn divisor(r: vec4i, H: i32, W: i32) -> f32 {
  if (md[15] != 0u) { return f32(md[15]); }
  if (md[16] == 1u) { return f32((r.y - r.x) * (r.w - r.z)); }
  return f32((min(r.y, H) - max(r.x, 0)) * (min(r.w, W) - max(r.z, 0)));
}`;
const avgMeta = (n: number, input: Shape, output: Shape, a: Pool2dAttrs, ops: GpuView[]) => {
  const m = geometryMeta(n, input, output, a, []);
  return [...m, a.divisorOverride ?? 0, +a.countIncludePad, ...ops.flatMap(at4)];
};
// avgPool2d's operands start 2 words later (after the divisor words)
const avgElem = (k: number, y: string, x: string) => elem(k, plane(k), y, x).replace(/md\[(\d+)u\]/g, (_, d) => `md[${+d + 2}u]`);

registerKernel('avgPool2d', 'webgpu', (([x], [out], a) => {
  const n = numelOf(out!.shape);
  const meta = avgMeta(n, x!.shape, out!.shape, a, [x!, out!]);
  const wgsl = () => `${MAIN([x!], [out!]).replace('@compute', `${WINDOW}\n@compute`)}
  let ox = i32(i % OW); let oy = i32((i / OW) % OH); let c = (i / (OW * OH)) % C; let nn = i / (OW * OH * C);
  let r = window(oy, ox, H, W, kh, kw, sh, sw, ph, pw);
  var s = 0.0;
  for (var iy = max(r.x, 0); iy < min(r.y, H); iy++) {
    for (var jx = max(r.z, 0); jx < min(r.w, W); jx++) { s += in0[${avgElem(0, 'iy', 'jx')}]; }
  }
  out0[${avgElem(1, 'oy', 'ox')}] = s / divisor(r, H, W);
}`;
  return [program('avgPool2d', wgsl, [x!], [out!], meta)];
}) as WebGPUKernel<Pool2dAttrs>);

registerKernel('avgPool2dBackward', 'webgpu', (([g], [dx], a) => {
  const n = numelOf(dx!.shape);
  const meta = avgMeta(n, dx!.shape, g!.shape, a, [g!, dx!]);
  const wgsl = () => `${MAIN([g!], [dx!]).replace('@compute', `${WINDOW}\n@compute`)}
  let jx = i32(i % u32(W)); let iy = i32((i / u32(W)) % u32(H)); let c = (i / u32(W * H)) % C; let nn = i / u32(W * H) / C;
  // the outputs whose window can hold (iy, jx): oy·sh - ph <= iy < oy·sh - ph + kh
  let y0 = max(0, (iy + ph - kh + sh) / sh); let y1 = min(i32(OH) - 1, (iy + ph) / sh);
  let x0 = max(0, (jx + pw - kw + sw) / sw); let x1 = min(i32(OW) - 1, (jx + pw) / sw);
  var acc = 0.0;
  for (var oy = y0; oy <= y1; oy++) {
    for (var ox = x0; ox <= x1; ox++) {
      let r = window(oy, ox, H, W, kh, kw, sh, sw, ph, pw);
      if (iy >= r.x && iy < r.y && jx >= r.z && jx < r.w) { acc += in0[${avgElem(0, 'oy', 'ox')}] / divisor(r, H, W); }
    }
  }
  out0[${avgElem(1, 'iy', 'jx')}] = acc;
}`;
  return [program('avgPool2dBackward', wgsl, [g!], [dx!], meta)];
}) as WebGPUKernel<Pool2dAttrs>);
