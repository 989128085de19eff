import type { BackendFusion, DType, FusedNode, FusedRef, FusionGroup } from '@tapegrad/tensor';
import { broadcastStrides, coalesce, DTYPE_CODE, numelOf, preamble, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from './program.js';
import { MAP_OPS } from './kernels/elementwise.js';

// Fusion on WebGPU (the pass: @tapegrad/tensor's compile/fuse.ts). A group becomes one shader:
// each op is a WGSL function whose body is its expression from MAP_OPS, the table the eager
// kernels are made from, computing in f32 as the eager kernel of a float32 output does; values
// pass between them in registers where eager stored and reloaded the same f32 bits. One pipeline
// per group signature (its ops and how they connect); shapes, strides and attrs are metadata.

const OPERAND: readonly DType[] = ['float32', 'int32', 'bool'];
const DEFINES = /\b(?:fn|struct|alias|const)\s+(\w+)/g;

/** The WGSL helpers of the nodes, each once; undefined if two different ones define one name (they could not live in one shader). */
function helpers(nodes: readonly FusedNode[]): string | undefined {
  const texts = [...new Set(nodes.map((n) => MAP_OPS.get(n.op)!.f.helpers?.('f32') ?? ''))].filter(Boolean);
  const names = texts.flatMap((t) => [...t.matchAll(DEFINES)].map((m) => m[1]!));
  return new Set(names).size === names.length ? texts.join('\n') : undefined;
}

/** The shader of a group, and the kernel running it (operands in any layout; node values stay in registers). */
function fuse({ nodes, args }: FusionGroup): WebGPUKernel | undefined {
  if (!nodes.every((n) => MAP_OPS.has(n.op) && n.inputs.length <= 3)) return undefined;
  const extra = helpers(nodes);
  if (extra === undefined) return undefined;
  const k = args.length;
  // each node's scalars, from its attrs (fixed for the trace): their words follow the dtype codes
  const scalars = nodes.map((n) => MAP_OPS.get(n.op)!.scalars?.(n.attrs) ?? []);
  const first = scalars.map((_, j) => scalars.slice(0, j).reduce((t, s) => t + s.length, 0));
  const words = scalars.flat();
  const ref = (r: FusedRef) => ('arg' in r ? `x${r.arg}` : `v${r.node}`);
  const fns = nodes.map((n, j) => `fn n${j}(a: C, b: C, c: C, s0: C, s1: C, i: u32) -> C { return ${MAP_OPS.get(n.op)!.f.expr}; }`);
  const calls = nodes.map((n, j) => {
    const operand = (q: number) => (n.inputs[q] ? ref(n.inputs[q]!) : 'C(0)');
    const s = (q: number) => (q < scalars[j]!.length ? `bitcast<C>(md[${3 + k + first[j]! + q}u])` : 'C(0)');
    return `let v${j} = n${j}(${operand(0)}, ${operand(1)}, ${operand(2)}, ${s(0)}, ${s(1)}, i);`;
  });
  const wgsl = () => `${preamble(args.map(() => 'u32'), ['u32'])}
alias C = f32;
fn is_nan(x: C) -> bool { return nan_f32(x); }
fn ld(bits: u32, code: u32) -> C {
  if (code == 0u) { return bitcast<f32>(bits); }
  if (code == 1u) { return C(bitcast<i32>(bits)); }
  return C(bits);
}
${extra}
${fns.join('\n')}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }
  ${walk(k + 1, `${3 + k + words.length}u`, 'i')}
  ${args.map((_, q) => `let x${q} = ld(in${q}[o${q}], md[${2 + q}u]);`).join(' ')}
  ${calls.join('\n  ')}
  out0[o${k}] = bitcast<u32>(v${nodes.length - 1});
}`;
  const key = `fused:${k}:${nodes.map((n) => `${n.op}(${n.inputs.map(ref).join(',')})`).join(';')}`;
  return (inputs: readonly GpuView[], [out]: readonly GpuView[]): Program[] => {
    const n = numelOf(out!.shape);
    const views = [...inputs.map((v) => ({ offset: v.offset, strides: broadcastStrides(v, out!.shape) })), { offset: out!.offset, strides: out!.strides }];
    const co = coalesce(out!.shape, views.map((v) => v.strides));
    const meta = [n, 0, ...inputs.map((v) => DTYPE_CODE[v.dtype]!), DTYPE_CODE[out!.dtype]!, ...words, ...walkMeta(co.shape, views.map((v, j) => ({ offset: v.offset, strides: co.strides[j]! })))];
    return [{ key, wgsl, inputs: inputs.map((v) => v.handle), outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP) }];
  };
}

/** The WebGPU backend's part in compile's fusion: float32 elementwise ops from MAP_OPS. */
export const webgpuFusion: BackendFusion = {
  role: (op, inputs, output) => (output === 'float32' && inputs.every((d) => OPERAND.includes(d)) && MAP_OPS.has(op) ? 'elementwise' : undefined),
  fuse,
};
