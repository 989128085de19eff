import { getBackend, registerKernel, type SgdStepAttrs, type AdamStepAttrs, type ForeachStepAttrs, type DType } from '@tapegrad/tensor';
import type { WebGPUBackend } from '../backend.js';
import { f32Bits, numelOf, preamble, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';
import type { Extra, Stored } from './matmul.js';

// Fused optimizer updates, as the CPU kernels (op definitions: @tapegrad/nn's optim/fused.ts):
// ops with no outputs that update the parameter and its state in place, a thread per element.
// The updated tensors are bound as the program's outputs (read-write), the gradient as its
// input. Inputs are contiguous (the optimizer only fuses then). Options are metadata words, so
// one pipeline per (op, which state buffers exist) serves every hyperparameter setting.
//
// Each parameter's metadata is a record: the offsets of the parameter, the gradient and the
// state, then the scalars. The single op has one record after md[0] (the element count) and
// md[1]; the foreach op runs many parameters in one dispatch, a thread per element of all of
// them, each record after the index where its parameter's elements end. Both generate the update
// from the same text (`update` below), so the arithmetic is the same, bit for bit.

/** WGSL updating element `e` of one parameter: `g` its gradient's value there, `outs` (parameter, then state), record word k at `rec(k)`. */
type Update = (rec: (k: number) => number, e: string, g: string, outs: readonly string[]) => string;

const f = (k: number) => `bitcast<f32>(md[${k}])`;
// record: offsets of param, grad[, momentum buffer]; lr, momentum, dampening, weightDecay; nesterov, maximize, init as 0/1
const sgd: Update = (r, e, g, [p, b]) => {
  const s = b ? 3 : 2;
  return `var d = ${g};
  if (md[${r(s + 5)}] == 1u) { d = -d; }
  let p = ${p}[md[${r(0)}] + ${e}];
  if (${f(r(s + 3))} != 0.0) { d += ${f(r(s + 3))} * p; }
  ${b ? `let j = md[${r(2)}] + ${e};
  var b = d;
  if (md[${r(s + 6)}] == 0u) { b = ${f(r(s + 1))} * ${b}[j] + (1.0 - ${f(r(s + 2))}) * d; }
  ${b}[j] = b;
  d = select(b, d + ${f(r(s + 1))} * b, md[${r(s + 4)}] == 1u);` : ''}
  ${p}[md[${r(0)}] + ${e}] = p - ${f(r(s))} * d;`;
};
const sgdScalars = (a: SgdStepAttrs) => [a.lr, a.momentum, a.dampening, a.weightDecay].map(f32Bits).concat([+a.nesterov, +a.maximize, +a.init]);

// record: offsets of param, grad, expAvg, expAvgSq[, maxExpAvgSq]; the step's bias corrections
// are folded into scalars on the host (in float64), as the CPU kernel computes them
const adam: Update = (r, e, g, [p, m, v, x]) => {
  const s = x ? 5 : 4;
  return `var d = ${g};
  if (md[${r(s + 7)}] == 1u) { d = -d; }
  var p = ${p}[md[${r(0)}] + ${e}];
  if (${f(r(s + 4))} != 0.0) { if (md[${r(s + 6)}] == 1u) { p *= ${f(r(s + 5))}; } else { d += ${f(r(s + 4))} * p; } }
  let m = ${f(r(s + 1))} * ${m}[md[${r(2)}] + ${e}] + (1.0 - ${f(r(s + 1))}) * d;
  var v = ${f(r(s + 2))} * ${v}[md[${r(3)}] + ${e}] + (1.0 - ${f(r(s + 2))}) * d * d;
  ${m}[md[${r(2)}] + ${e}] = m;
  ${v}[md[${r(3)}] + ${e}] = v;
  ${x ? `v = max(${x}[md[${r(4)}] + ${e}], v); ${x}[md[${r(4)}] + ${e}] = v;` : ''}
  ${p}[md[${r(0)}] + ${e}] = p - (${f(r(s))} * m) / (sqrt(v) / ${f(r(s + 3))} + ${f(r(s + 8))});`;
};
function adamScalars(a: AdamStepAttrs): number[] {
  const stepSize = a.lr / (1 - a.beta1 ** a.step);
  const c2 = Math.sqrt(1 - a.beta2 ** a.step);
  const decay = a.decoupled ? 1 - a.lr * a.weightDecay : 1;
  // stepSize, beta1, beta2, c2, weightDecay, decay, decoupled, maximize, eps
  return [stepSize, a.beta1, a.beta2, c2, a.weightDecay, decay].map(f32Bits).concat([+a.decoupled, +a.maximize, f32Bits(a.eps)]);
}

// each binding takes its tensor's dtype: a float16 parameter, its gradient and state update in f32
// and round once when stored, as the CPU kernels do
const head = (inputs: readonly DType[], outputs: readonly DType[]) => `${preamble(inputs, outputs)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }`;

/** A parameter's record: the offsets of [param, grad, ...state], then the scalars. */
const record = ([p, g, ...state]: readonly GpuView[], scalars: number[]) => [p!, g!, ...state].map((v) => v.offset).concat(scalars);

function single<A>(op: string, update: Update, scalars: (a: A) => number[]): WebGPUKernel<A> {
  return (inputs, _out, a) => {
    const [p, g, ...state] = inputs;
    const outs = [p!, ...state];
    const n = numelOf(p!.shape);
    const wgsl = () => `${head([g!.dtype], outs.map((v) => v.dtype))}
  ${update((k) => 2 + k, 'i', 'in0[md[3] + i]', outs.map((_, j) => `out${j}`))}
}`;
    return [{ key: `${op}:${inputs.length}`, wgsl, inputs: [g!.handle], outputs: outs.map((v) => v.handle), meta: [n, 0, ...record(inputs, scalars(a))], workgroups: Math.ceil(n / WORKGROUP) }];
  };
}

/**
 * WGSL: one branch per parameter, in order, that takes element `i` if it is the parameter's and
 * updates it: `n` records of `rl` words from word `first`, each after the index where its
 * parameter's elements end; the gradient of parameter j bound as `grad(j)`, its tensors `outs(j)`.
 */
function branches(n: number, first: number, rl: number, update: Update, grad: (j: number) => string, outs: (j: number) => string[]): string {
  return Array.from({ length: n }, (_, j) => {
    const at = first + j * rl;
    const e = j === 0 ? 'i' : `(i - md[${at - rl}])`;
    return `if (i < md[${at}]) {
  ${update((k) => at + 1 + k, e, `${grad(j)}[md[${at + 2}] + ${e}]`, outs(j))}
  return;
  }`;
  }).join('\n  ');
}

/**
 * Many parameters per dispatch, as many as the bindings allow: each binds its gradient and the
 * tensors it updates, and a shader stage has `maxStorageBuffersPerShaderStage` storage bindings
 * (the device asked for the adapter's), one of them the metadata. More parameters take more
 * dispatches. WGSL cannot index bindings, so the shader tests which parameter a thread's element
 * belongs to, one branch per parameter.
 */
function foreach<A>(op: string, update: Update, scalars: (a: A) => number[]): WebGPUKernel<ForeachStepAttrs<A>> {
  return (inputs, _out, a) => {
    const w = inputs.length / a.each.length;
    const limit = (getBackend('webgpu') as WebGPUBackend).limits.maxStorageBuffersPerShaderStage;
    const per = Math.max(1, Math.floor((limit - 1) / w));
    const programs: Program[] = [];
    for (let first = 0; first < a.each.length; first += per) {
      const params = Array.from({ length: Math.min(per, a.each.length - first) }, (_, j) => inputs.slice((first + j) * w, (first + j + 1) * w));
      const records = params.map((views, j) => record(views, scalars(a.each[first + j]!)));
      const rl = records[0]!.length + 1; // each record follows the index where its parameter's elements end
      const meta = [0, 0];
      for (const [j, views] of params.entries()) meta.push((meta[0]! += numelOf(views[0]!.shape)), ...records[j]!);
      const wgsl = () => `${head(params.map((v) => v[1]!.dtype), params.flatMap(([p, , ...state]) => [p!, ...state].map((v) => v.dtype)))}
  ${branches(params.length, 2, rl, update, (j) => `in${j}`, (j) => Array.from({ length: w - 1 }, (_, r) => `out${j * (w - 1) + r}`))}
}`;
      programs.push({
        key: `${op}:${w}:${params.length}`,
        wgsl,
        inputs: params.map((v) => v[1]!.handle),
        outputs: params.flatMap(([p, , ...state]) => [p!, ...state].map((v) => v.handle)),
        meta,
        workgroups: Math.ceil(meta[0]! / WORKGROUP),
      });
    }
    return programs;
  };
}

/**
 * A foreach step in a product's dispatch (a compiled step's combined group, fuse.ts; the product
 * in matmul.ts): a parameter whose gradient the product computes (`q`: 0 its output, 1 its row
 * sums, element for element the parameter's) is updated by the thread that stores each gradient
 * element, with the value it stores; the others, whose gradients were complete before, by
 * threads of workgroups after the product's, as the foreach kernel's threads. The update is the
 * foreach kernel's text and records, so its bits. `extra`'s words: the others' element count,
 * then each other's end index and record, then each computed one's record; its bindings the
 * others' gradients, then every parameter's tensors (the others' first). `size`: the threads of
 * the dispatch's workgroups.
 */
export function foreachBeside(op: string, params: readonly { views: readonly GpuView[]; attrs: unknown; q: 0 | 1 | undefined }[], size: number): { stored: Stored; extra: Extra } {
  const [update, scalars] = FOREACH.get(op)!;
  const others = params.filter((p) => p.q === undefined), computed = params.filter((p) => p.q !== undefined);
  const records = [...others, ...computed].map((p) => record(p.views, scalars(p.attrs)));
  const rl = records[0]!.length + 1;
  const w = params[0]!.views.length;
  const meta = [0];
  others.forEach((p, j) => meta.push((meta[0]! += numelOf(p.views[0]!.shape)), ...records[j]!));
  computed.forEach((_, j) => meta.push(...records[others.length + j]!));
  const outs = (j: number, outAt: number) => Array.from({ length: w - 1 }, (_, r) => `out${outAt + j * (w - 1) + r}`);
  const stored: Stored = (q, i, v, at) =>
    computed
      .map((p, j) => (p.q !== q ? '' : `{ ${update((k) => at.base + 1 + others.length * rl + j * (rl - 1) + k, `(${i})`, v, outs(others.length + j, at.outAt))} }`))
      .join(' ');
  const extra: Extra = {
    meta,
    groups: Math.ceil(meta[0]! / size),
    key: `${op}:${w}:${others.length}:${computed.map((p) => p.q).join('')}:${size}`,
    inputs: others.map((p) => p.views[1]!),
    outputs: [...others, ...computed].flatMap(({ views: [p, , ...state] }) => [p!, ...state]),
    wgsl: (base, inAt, outAt) => `fn extra(g: u32, l: u32) {
  let i = g * ${size}u + l;
  if (i >= md[${base}u]) { return; }
  ${branches(others.length, base + 1, rl, update, (j) => `in${inAt + j}`, (j) => outs(j, outAt))}
}`,
  };
  return { stored, extra };
}
const FOREACH = new Map<string, [Update, (a: any) => number[]]>([
  ['sgdStepForeach', [sgd, sgdScalars]],
  ['adamStepForeach', [adam, adamScalars]],
]);

registerKernel('sgdStep', 'webgpu', single('sgdStep', sgd, sgdScalars));
registerKernel('adamStep', 'webgpu', single('adamStep', adam, adamScalars));
registerKernel('sgdStepForeach', 'webgpu', foreach('sgdStepForeach', sgd, sgdScalars));
registerKernel('adamStepForeach', 'webgpu', foreach('adamStepForeach', adam, adamScalars));
