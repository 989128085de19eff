import { getBackend, getKernel, type BackendFusion, type ClassLossAttrs, type ForeachStepAttrs, type CombinedGroup, type CombinedKind, type Conv2dAttrs, type DType, type FusedNode, type FusedRef, type FusionGroup, type Pool2dAttrs } from '@tapegrad/tensor';
import { broadcastStrides, coalesce, DTYPE_CODE, numelOf, preamble, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from './program.js';
import { MAP_OPS } from './kernels/elementwise.js';
import { linearProgram, matmulPart, matmulProgram, matmulPrograms } from './kernels/matmul.js';
import { conv2dProgram, conv2dWeightGradProgram, convBackwardProgram } from './kernels/conv.js';
import { maxPool2dBackwardProgram } from './kernels/pool.js';
import { reduceProgram } from './kernels/reduce.js';
import { foreachBeside } from './kernels/optim.js';
import type { WebGPUBackend } from './backend.js';
import { COMBINED_ROWS, crossEntropyCombined, LINEAR_CE, type LinearOperands } from './kernels/losses.js';

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

/**
 * WGSL of a group's nodes: a function per node with its MAP_OPS expression, and `let v{j}` per
 * node calling it on operands `x{q}` (the group's args, loaded by the caller) and earlier
 * values; an anchor (node 0) is `v0`, the caller's. Scalars are read from `md[words + ...]`.
 */
function chain(nodes: readonly FusedNode[], anchored: boolean, words: string) {
  const ops = anchored ? nodes.slice(1) : nodes;
  if (!ops.every((n) => MAP_OPS.has(n.op) && n.inputs.length <= 3) || helpers(ops) === undefined) return undefined;
  const scalars = nodes.map((n, j) => (anchored && j === 0 ? [] : (MAP_OPS.get(n.op)!.scalars?.(n.attrs) ?? [])));
  const first = scalars.map((_, j) => scalars.slice(0, j).reduce((t, s) => t + s.length, 0));
  const ref = (r: FusedRef) => ('arg' in r ? `x${r.arg}` : `v${r.node}`);
  const fns = nodes.map((n, j) => (anchored && j === 0 ? '' : `fn n${j}(a: C, b: C, c: C, s0: C, s1: C, i: u32) -> C { return ${MAP_OPS.get(n.op)!.f.expr}; }`));
  const calls = nodes.map((n, j) => {
    if (anchored && j === 0) return '';
    const operand = (q: number) => (n.inputs[q] ? ref(n.inputs[q]!) : 'C(0)');
    const s = (q: number) => (q < scalars[j]!.length ? `bitcast<C>(md[${words} + ${first[j]! + q}u])` : 'C(0)');
    return `let v${j} = n${j}(${operand(0)}, ${operand(1)}, ${operand(2)}, ${s(0)}, ${s(1)}, i);`;
  });
  return {
    defs: () => `${helpers(ops)}\n${fns.join('\n')}`,
    calls: calls.join(' '),
    words: scalars.flat(),
    result: `v${nodes.length - 1}`,
    key: nodes.map((n) => `${n.op}(${n.inputs.map(ref).join(',')})`).join(';'),
  };
}
const LD = `fn is_nan(x: C) -> bool { return nan_f32(x); }
fn ld(bits: u32, code: u32) -> C {
  if (code == 0u) { return bitcast<f32>(bits); }
  if (code == 1u) { return C(bitcast<i32>(bits)); }
  return C(bits);
}`;
const walkOf = (shape: readonly number[], views: readonly GpuView[], out: GpuView) => {
  const st = views.map((v) => broadcastStrides(v, out.shape));
  const co = coalesce(shape, st);
  return walkMeta(co.shape, views.map((v, j) => ({ offset: v.offset, strides: co.strides[j]! })));
};

/**
 * A chain run inside another kernel's shader, with its args bound after that kernel's own
 * (from binding `in{first}`, metadata from word `base`). An epilogue (matmul.ts, conv.ts,
 * pool.ts): `fn epilogue(v0: f32, i: u32) -> f32` applies the chain to the anchor's value of
 * output element `i` (row-major in the dense output). A prologue (reduce.ts): `fn prologue(i:
 * u32) -> f32` computes the chain's value of element `i` (row-major) of the reduction's input.
 */
export interface Epilogue {
  readonly inputs: readonly GpuView[];
  readonly key: string;
  wgsl(base: number, first: number): string;
  /** Its metadata words, for the chain's shape (the anchor's output, the reduction's input). */
  meta(shape: GpuView): number[];
}
/** The chain of `nodes` (node 0 the anchor's value when `anchored`), its args those from index `k` on. */
function stage(nodes: readonly FusedNode[], k: number, anchored: boolean): (inputs: readonly GpuView[]) => Epilogue {
  return (inputs) => {
    const extra = inputs.slice(k);
    const c = chain(nodes.map((n) => ({ ...n, inputs: n.inputs.map((r) => ('arg' in r ? { arg: r.arg - k } : r)) })), anchored, 'e_w')!;
    return {
      inputs: extra,
      key: `${extra.length}:${c.key}`,
      wgsl: (base, first) => `${LD}
${c.defs()}
fn ${anchored ? 'epilogue(v0: C, i: u32)' : 'prologue(i: u32)'} -> C {
  let e_w = ${base + extra.length}u;
  ${walk(extra.length, `${base + extra.length}u + ${c.words.length}u`, 'i', 'q')}
  ${extra.map((_, q) => `let x${q} = ld(in${first + q}[q${q}], md[${base + q}u]);`).join(' ')}
  ${c.calls}
  return ${c.result};
}`,
      meta: (v) => [...extra.map((a) => DTYPE_CODE[a.dtype]!), ...c.words, ...walkOf(v.shape, extra, v)],
    };
  };
}
function epilogue({ nodes }: FusionGroup): ((inputs: readonly GpuView[]) => Epilogue) | undefined {
  const k = nodes[0]!.inputs.length; // the anchor's own operands come first among the args
  // the epilogue binds the args after the anchor's own: one it shares with the anchor (matmul(x, w) + x) would need both
  if (!nodes[0]!.inputs.every((r, q) => 'arg' in r && r.arg === q) || nodes.slice(1).some((n) => n.inputs.some((r) => 'arg' in r && r.arg < k))) return undefined;
  return stage(nodes, k, true);
}

/** The shader of an elementwise group, and the kernel running it (operands in any layout; node values stay in registers). */
function elementwise({ nodes, args }: FusionGroup): WebGPUKernel | undefined {
  const k = args.length;
  const c = chain(nodes, false, `${3 + k}u`);
  if (!c) return undefined;
  const wgsl = () => `${preamble(args.map(() => 'u32'), ['u32'])}
alias C = f32;
${LD}
${c.defs()}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }
  ${walk(k + 1, `${3 + k + c.words.length}u`, 'i')}
  ${args.map((_, q) => `let x${q} = ld(in${q}[o${q}], md[${2 + q}u]);`).join(' ')}
  ${c.calls}
  out0[o${k}] = bitcast<u32>(${c.result});
}`;
  const key = `fused:${k}:${c.key}`;
  return (inputs: readonly GpuView[], [out]: readonly GpuView[]): Program[] => {
    const n = numelOf(out!.shape);
    const meta = [n, 0, ...inputs.map((v) => DTYPE_CODE[v.dtype]!), DTYPE_CODE[out!.dtype]!, ...c.words, ...walkOf(out!.shape, [...inputs, out!], out!)];
    return [{ key, wgsl, inputs: inputs.map((v) => v.handle), outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP) }];
  };
}

/** Reductions that compute a float32 prologue as they read, or an epilogue as they store (reduce.ts). */
const REDUCTIONS = new Set(['sum', 'max', 'min', 'prod']);
/** Anchors whose shader applies an epilogue at its store, given the group's epilogue. */
type Anchor = (inputs: readonly GpuView[], out: GpuView, attrs: any, epi: Epilogue) => Program;
const ANCHORS = new Map<string, Anchor>([
  ['matmul', ([a, b], out, _attrs, epi) => matmulProgram(a!, b!, out, undefined, epi)],
  ['linear', ([x, w, b], out, _attrs, epi) => linearProgram(x!, w!, out, b, epi)],
  ['conv2d', conv2dProgram],
  ['maxPool2dBackward', maxPool2dBackwardProgram],
  // a reduction that took no prologue: the epilogue runs on each result as it is stored
  ...[...REDUCTIONS].map((op): [string, Anchor] => [op, ([x], out, { dims }, epi) => reduceProgram(op, x!, out, dims, undefined, epi)]),
]);

function fuse(group: FusionGroup): WebGPUKernel | undefined {
  const last = group.nodes.at(-1)!;
  if (REDUCTIONS.has(last.op)) {
    const pro = group.nodes.slice(0, -1);
    if (!chain(pro, false, '0u')) return undefined;
    const make = stage(pro, 0, false);
    const shape = pro.at(-1)!.shape;
    const { dims } = last.attrs as { dims: readonly number[] };
    // the reduction reads the chain's value as a dense float32 tensor of its shape, never stored
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((n, e) => n * e, 1));
    return ((inputs, [out]) => [reduceProgram(last.op, { handle: undefined as never, dtype: 'float32', shape, strides, offset: 0 }, out!, dims, make(inputs))]) as WebGPUKernel;
  }
  const anchor = ANCHORS.get(group.nodes[0]!.op);
  if (!anchor) return elementwise(group);
  if (!chain(group.nodes, true, '0u')) return undefined;
  const epi = epilogue(group);
  const { inputs: own, attrs } = group.nodes[0]!;
  if (!epi) return undefined;
  return ((inputs, [out]) => [anchor(inputs.slice(0, own.length), out!, attrs, epi(inputs))]) as WebGPUKernel;
}

/**
 * Combined groups (compile/combine.ts, `recognize`) as one dispatch: crossEntropy with its
 * backward, after the last linear layer or not (losses.ts); a weight gradient Gᵀ·X with its bias
 * gradient, G's column sums, as the product's extra column, and beside it the layer's input
 * gradient (matmul.ts); conv2dWeightGrad with its bias's sum, conv2d with its pool, a
 * convolution's three gradients with the pool backward (conv.ts); the optimizer's step in a
 * weight gradient's dispatch (optim.ts).
 */
function combine(group: CombinedGroup, kind: CombinedKind): WebGPUKernel | 'partial' | undefined {
  if (kind.kind === 'biasGrad') {
    const p = group.nodes[kind.product]!, s = group.nodes[kind.sum]!;
    return ((inputs, outs) => [matmulProgram(inputs[p.inputs[0]!]!, inputs[p.inputs[1]!]!, outs[p.outputs[0]!]!, undefined, undefined, outs[s.outputs[0]!]!)]) as WebGPUKernel;
  }
  if (kind.kind === 'optimizer') return optimizer(group, kind);
  if (kind.kind === 'linearBackward') {
    // the input gradient G·W (its epilogue included) and the weight gradient with its bias's row
    // sums, side by side in one dispatch, each computed by its own kernel's code
    const p = group.nodes[kind.product]!, s = group.nodes[kind.sum]!, x = group.nodes[kind.input]!;
    const dx = anchored(x, 'matmul');
    if (!dx || ![...group.args, ...group.outputs].every((v) => v.dtype === 'float32' || v.dtype === 'int32' || v.dtype === 'bool')) return undefined;
    if (group.outputs[x.outputs[0]!]!.dtype !== 'float32') return undefined;
    return ((inputs, outs) => {
      const ins = x.inputs.map((k) => inputs[k]!);
      return [matmulPrograms([
        matmulPart(ins[0]!, ins[1]!, outs[x.outputs[0]!]!, undefined, dx.epi?.(ins)),
        matmulPart(inputs[p.inputs[0]!]!, inputs[p.inputs[1]!]!, outs[p.outputs[0]!]!, undefined, undefined, outs[s.outputs[0]!]!),
      ])];
    }) as WebGPUKernel;
  }
  if (kind.kind === 'convBiasGrad') {
    const p = group.nodes[kind.product]!, s = group.nodes[kind.sum]!;
    return ((inputs, outs) => [conv2dWeightGradProgram(inputs[p.inputs[0]!]!, inputs[p.inputs[1]!]!, outs[p.outputs[0]!]!, p.attrs as Conv2dAttrs, outs[s.outputs[0]!]!)]) as WebGPUKernel;
  }
  if (kind.kind === 'partial') return 'partial';
  if (kind.kind === 'convPool') return convPool(group, kind);
  if (kind.kind === 'convBackward') return convBackward(group, kind);
  if (kind.kind !== 'crossEntropy' && kind.kind !== 'linearCrossEntropy') return undefined;
  const f = group.nodes[kind.forward]!, b = group.nodes[kind.backward]!;
  const x = group.args[f.inputs[0]!]!;
  const rows = numelOf(x.shape) / x.shape[x.shape.length === 1 ? 0 : 1]!;
  if (rows > COMBINED_ROWS || x.dtype !== 'float32') return undefined;
  // the combined kernel's operands [input, target, upstream, weight?] and outputs [loss, stats, total, gradInput, exps?]
  const operands = [f.inputs[0]!, f.inputs[1]!, b.inputs[4]!, ...f.inputs.slice(2)];
  const outputs = [...f.outputs.slice(0, 3), ...b.outputs, ...f.outputs.slice(3)];
  const lin = kind.kind === 'linearCrossEntropy' ? group.nodes[kind.linear]! : undefined;
  if (lin) {
    // a 2-d float32 layer within the bounds of one workgroup's products
    const [lx, lw, lb] = lin.inputs.map((k) => group.args[k]!);
    const [N, K] = lx!.shape, C = lw!.shape[0]!;
    const ok = lx!.shape.length === 2 && lw!.shape.length === 2 && [lx, lw, lb].every((v) => !v || v.dtype === 'float32');
    if (!ok || C > LINEAR_CE.classes || K! > LINEAR_CE.hidden || N! * C * K! > LINEAR_CE.products) return undefined;
  }
  const linear = (inputs: readonly GpuView[], outs: readonly GpuView[]): LinearOperands | undefined =>
    lin && { x: inputs[lin.inputs[0]!]!, w: inputs[lin.inputs[1]!]!, b: lin.inputs[2] === undefined ? undefined : inputs[lin.inputs[2]]!, logits: outs[lin.outputs[0]!]! };
  return ((inputs, outs) => [crossEntropyCombined(operands.map((k) => inputs[k]!), outputs.map((k) => outs[k]!), f.attrs as ClassLossAttrs, linear(inputs, outs))]) as WebGPUKernel;
}

/**
 * A multi-tensor optimizer step in the dispatch of the weight gradient that wrote the last
 * gradients it reads ('biasGrad': Gᵀ·X and its row sums, matmul.ts; 'convBiasGrad':
 * conv2dWeightGrad and its bias's sums, conv.ts): the parameters whose gradients it computes are
 * updated where each gradient element is stored (each is final in one thread: no split K, a
 * workgroup's tree), the others by workgroups after the gradient's (optim.ts' foreachBeside), as
 * many as the bindings leave room for; those past them by the foreach kernel's dispatches after.
 * Declined where the computed parameters and their state do not fit one dispatch's bindings, or
 * the gradient reads what the step updates (a race), or for other producers.
 */
function optimizer(group: CombinedGroup, kind: Extract<CombinedKind, { kind: 'optimizer' }>): WebGPUKernel | undefined {
  const producer = kind.producer;
  if (producer.kind !== 'biasGrad' && producer.kind !== 'convBiasGrad') return undefined;
  const { args, nodes } = group;
  const step = nodes[kind.step]!, P = nodes[producer.product]!, S = nodes[producer.sum]!;
  const n = (step.attrs as ForeachStepAttrs<unknown>).each.length;
  const w = step.inputs.length / n;
  // which output of the product each parameter's gradient is, if any
  const q = Array.from({ length: n }, (_, j) => {
    const from = args[step.inputs[j * w + 1]!]!.from;
    return from === undefined ? undefined : from === P.outputs[0] ? 0 : from === S.outputs[0] ? 1 : -1;
  });
  const read = new Set(P.inputs.map((k) => args[k]!.buf));
  const limit = (getBackend('webgpu') as WebGPUBackend).limits.maxStorageBuffersPerShaderStage;
  // the gradient's 2 operands and 2 outputs, the metadata and each computed parameter's tensors;
  // another parameter's take its gradient too
  const room = limit - 5 - q.filter((x) => x !== undefined).length * (w - 1);
  const joined = q.map((x, j) => x !== undefined || q.slice(0, j + 1).filter((y) => y === undefined).length * w <= room);
  const dense = (v: CombinedGroup['outputs'][number]) => v.offset === 0 && v.strides.every((s, d) => s === v.shape.slice(d + 1).reduce((t, e) => t * e, 1));
  if (q.includes(-1) || room < 0 || step.inputs.some((k, i) => i % w !== 1 && read.has(args[k]!.buf))) return undefined;
  if (![...args, ...group.outputs].every((v) => v.dtype === 'float32') || !dense(group.outputs[P.outputs[0]!]!) || !dense(group.outputs[S.outputs[0]!]!)) return undefined;
  const rest = getKernel(step.op, 'webgpu') as WebGPUKernel<ForeachStepAttrs<unknown>>;
  return ((inputs, outs, attrs: readonly unknown[]) => {
    const each = (attrs[kind.step] as ForeachStepAttrs<unknown>).each;
    const views = (j: number) => step.inputs.slice(j * w, j * w + w).map((k) => inputs[k]!);
    const [x, g, dw, db] = [inputs[P.inputs[0]!]!, inputs[P.inputs[1]!]!, outs[P.outputs[0]!]!, outs[S.outputs[0]!]!];
    const beside = (size: number) => foreachBeside(step.op, q.flatMap((qj, j) => (joined[j] ? [{ views: views(j), attrs: each[j], q: qj as 0 | 1 | undefined }] : [])), size);
    let first: Program;
    if (producer.kind === 'biasGrad') {
      const { stored, extra } = beside(64);
      first = matmulPrograms([matmulPart(x, g, dw, undefined, undefined, db, stored)], extra);
    } else first = conv2dWeightGradProgram(x, g, dw, P.attrs as Conv2dAttrs, db, beside(WORKGROUP));
    const left = q.flatMap((_, j) => (joined[j] ? [] : [j]));
    return [first, ...(left.length ? rest(left.flatMap(views), [], { each: left.map((j) => each[j]) }, step.op) : [])];
  }) as WebGPUKernel;
}

/** A member that may be a fused group (its attrs the group, compile/fuse.ts): its anchor's attrs, and the epilogue after it. */
function anchored(n: CombinedGroup['nodes'][number], op: string) {
  if (n.op === op) return { attrs: n.attrs, own: n.inputs.length, epi: undefined };
  const inner = n.attrs as FusionGroup;
  const epi = inner.nodes[0]!.op === op && chain(inner.nodes, true, '0u') ? epilogue(inner) : undefined;
  return epi && { attrs: inner.nodes[0]!.attrs, own: inner.nodes[0]!.inputs.length, epi };
}

/** conv2d (and its epilogue) with the max pool of its output, in one shader: a thread per pooled window (conv.ts). */
function convPool(group: CombinedGroup, kind: Extract<CombinedKind, { kind: 'convPool' }>): WebGPUKernel | undefined {
  const c = group.nodes[kind.conv]!, p = group.nodes[kind.pool]!;
  const conv = anchored(c, 'conv2d');
  if (!conv || ![...group.args, ...group.outputs].every((a) => a.dtype === 'float32' || a.dtype === 'int32')) return undefined;
  const { kernelSize } = p.attrs as Pool2dAttrs;
  return ((inputs, outs) => {
    const ins = c.inputs.map((k) => inputs[k]!);
    const pool = { out: outs[p.outputs[0]!]!, idx: outs[p.outputs[1]!]!, size: kernelSize };
    return [conv2dProgram(ins.slice(0, conv.own), outs[c.outputs[0]!]!, conv.attrs as Conv2dAttrs, conv.epi?.(ins), pool)];
  }) as WebGPUKernel;
}

/** A convolution's input, weight and bias gradients in one dispatch, and the pool backward after them in the input gradient's store (conv.ts). */
function convBackward(group: CombinedGroup, kind: Extract<CombinedKind, { kind: 'convBackward' }>): WebGPUKernel | undefined {
  const { nodes } = group;
  const d = nodes[kind.inputGrad]!, w = nodes[kind.weightGrad]!, s = nodes[kind.sum]!;
  const p = kind.poolBackward === undefined ? undefined : nodes[kind.poolBackward]!;
  const pool = p && anchored(p, 'maxPool2dBackward');
  if ((p && !pool) || ![...group.args, ...group.outputs].every((a) => a.dtype === 'float32' || a.dtype === 'int32')) return undefined;
  return ((inputs, outs) => {
    const scatter = p && pool && { idx: inputs[p.inputs[1]!]!, dx: outs[p.outputs[0]!]!, size: (pool.attrs as Pool2dAttrs).kernelSize, epi: pool.epi?.(p.inputs.map((k) => inputs[k]!)) };
    const [g, wt, x] = [d.inputs[0]!, d.inputs[1]!, w.inputs[0]!].map((k) => inputs[k]!);
    return [convBackwardProgram(g!, wt!, x!, outs[d.outputs[0]!]!, outs[w.outputs[0]!]!, outs[s.outputs[0]!]!, d.attrs as Conv2dAttrs, scatter)];
  }) as WebGPUKernel;
}

/** The WebGPU backend's part in compile's fusion: float32 elementwise ops from MAP_OPS, epilogues in the stores of matmul, conv2d and maxPool2dBackward, prologues in the loads of sum, max, min and prod; combined groups. */
export const webgpuFusion: BackendFusion = {
  role(op, inputs, output) {
    if (output !== 'float32' || !inputs.every((d) => OPERAND.includes(d))) return undefined;
    // a reduction: the pass lets one that took no prologue anchor an epilogue
    if (REDUCTIONS.has(op)) return inputs[0] === 'float32' ? 'reduction' : undefined;
    if (ANCHORS.has(op)) return 'anchor';
    return MAP_OPS.has(op) ? 'elementwise' : undefined;
  },
  fuse,
  combine,
};
