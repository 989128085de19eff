import { registerKernel, type SgdStepAttrs, type AdamStepAttrs } from '@tapegrad/tensor';
import { f32Bits, numelOf, preamble, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Fused optimizer updates, as the CPU kernels (op definitions: @tapegrad/nn's optim/fused.ts):
// ops with no outputs that update the parameter and its state in place, a thread per element.
// The updated tensors are bound as the program's outputs (read-write), the gradient as its
// input. Inputs are contiguous (the optimizer only fuses then). Options are metadata words, so
// one pipeline per (op, which state buffers exist) serves every hyperparameter setting.


// [p, g, ...state]: each binding takes its tensor's dtype (a float16 parameter, its gradient and state
// update in f32 and round once when stored, as the CPU kernels do)
const head = ([p, g, ...state]: readonly GpuView[]) => `${preamble([g!.dtype], [p!, ...state].map((v) => v.dtype))}
fn f(k: u32) -> f32 { return bitcast<f32>(md[k]); }
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }`;

function program(key: string, wgsl: () => string, [p, g, ...state]: readonly GpuView[], scalars: number[]): Program {
  const n = numelOf(p!.shape);
  const offsets = [p!, g!, ...state].map((v) => v.offset);
  return { key, wgsl, inputs: [g!.handle], outputs: [p!.handle, ...state.map((v) => v.handle)], meta: [n, 0, ...offsets, ...scalars], workgroups: Math.ceil(n / WORKGROUP) };
}

// inputs: param, grad[, momentum buffer]; meta after the offsets: lr, momentum, dampening,
// weightDecay, then nesterov, maximize, init as 0/1
registerKernel('sgdStep', 'webgpu', ((inputs, _out, a) => {
  const buf = inputs.length > 2;
  const s = buf ? 5 : 4;
  const wgsl = () => `${head(inputs)}
  var d = in0[md[3] + i];
  if (md[${s + 5}] == 1u) { d = -d; }
  let p = out0[md[2] + i];
  if (f(${s + 3}) != 0.0) { d += f(${s + 3}) * p; }
  ${buf ? `let j = md[4] + i;
  var b = d;
  if (md[${s + 6}] == 0u) { b = f(${s + 1}) * out1[j] + (1.0 - f(${s + 2})) * d; }
  out1[j] = b;
  d = select(b, d + f(${s + 1}) * b, md[${s + 4}] == 1u);` : ''}
  out0[md[2] + i] = p - f(${s}) * d;
}`;
  const scalars = [a.lr, a.momentum, a.dampening, a.weightDecay].map(f32Bits).concat([+a.nesterov, +a.maximize, +a.init]);
  return [program(`sgdStep:${buf}`, wgsl, inputs, scalars)];
}) as WebGPUKernel<SgdStepAttrs>);

// inputs: param, grad, expAvg, expAvgSq[, maxExpAvgSq]; the step's bias corrections are folded
// into scalars on the host (in float64), as the CPU kernel computes them
registerKernel('adamStep', 'webgpu', ((inputs, _out, a) => {
  const ams = inputs.length > 4;
  const s = ams ? 7 : 6;
  const wgsl = () => `${head(inputs)}
  var d = in0[md[3] + i];
  if (md[${s + 7}] == 1u) { d = -d; }
  var p = out0[md[2] + i];
  if (f(${s + 4}) != 0.0) { if (md[${s + 6}] == 1u) { p *= f(${s + 5}); } else { d += f(${s + 4}) * p; } }
  let m = f(${s + 1}) * out1[md[4] + i] + (1.0 - f(${s + 1})) * d;
  var v = f(${s + 2}) * out2[md[5] + i] + (1.0 - f(${s + 2})) * d * d;
  out1[md[4] + i] = m;
  out2[md[5] + i] = v;
  ${ams ? 'v = max(out3[md[6] + i], v); out3[md[6] + i] = v;' : ''}
  out0[md[2] + i] = p - (f(${s}) * m) / (sqrt(v) / f(${s + 3}) + f(${s + 8}));
}`;
  const stepSize = a.lr / (1 - a.beta1 ** a.step);
  const c2 = Math.sqrt(1 - a.beta2 ** a.step);
  const decay = a.decoupled ? 1 - a.lr * a.weightDecay : 1;
  // stepSize, beta1, beta2, c2, weightDecay, decay, decoupled, maximize, eps
  const scalars = [stepSize, a.beta1, a.beta2, c2, a.weightDecay, decay].map(f32Bits).concat([+a.decoupled, +a.maximize, f32Bits(a.eps)]);
  return [program(`adamStep:${ams}`, wgsl, inputs, scalars)];
}) as WebGPUKernel<AdamStepAttrs>);
