import { type BackendFusion, type CombinedGroup, type CombinedKind, type DType, type FusedNode, type FusedRef, type FusionGroup, type TypedArray } from '@tapegrad/tensor';
import { broadcastStrides, plan, type CpuKernel, type CpuView } from './strided.js';
import { FUSIBLE } from './kernels/elementwise.js';
import { FAST_OPS } from './kernels/fast-f32.js';

// Fusion on the CPU (the pass: @tapegrad/tensor's compile/fuse.ts). An anchor (a matmul, linear
// or convolution) writes the group's output, and the chain then runs over it in place, while it
// is still in cache. A chain of ops that have WebAssembly SIMD kernels or fast loops runs those
// eager kernels one after another in place over the output: a generated scalar loop measured 1.5
// to 3 times slower than them (docs/performance.md), so fusion there saves the intermediates'
// memory and the calls, not passes. A chain with an op that only the generic loop computes
// (activations, clamp, sqrt...) runs as one loop generated for the group, calling each op's
// scalar function from FUSIBLE, the very function its eager kernel applies, and rounding every
// value to float32 as eager's store into a Float32Array does. Either way the bits are eager's.

/** Kernels whose output an epilogue may follow (each writes its one output before the chain reads it). */
const ANCHORS = new Set(['linear', 'matmul', 'conv2d', 'conv2dInputGrad', 'maxPool2dBackward']);
const OPERAND: readonly DType[] = ['float32', 'int32', 'bool'];

type Loop = (handles: readonly TypedArray[], out: TypedArray, p: ReturnType<typeof plan>) => void;

/**
 * The loop of an elementwise group: per output element, each node's scalar function of its
 * operands, rounded to float32. Generated with `new Function` so that V8 compiles one loop per
 * group with its calls inlined; an engine that forbids generated code (a page whose
 * Content-Security-Policy has no 'unsafe-eval') throws here, and the group stays unfused.
 * `anchored`: node 0 is an anchor, whose value is read from the output itself.
 */
function generate(nodes: readonly FusedNode[], args: readonly number[], anchored: boolean): Loop | undefined {
  const fns = nodes.map((n, j) => (anchored && j === 0 ? () => 0 : FUSIBLE.get(n.op)!(n.attrs)));
  // the loop walks only the args the chain reads (`args`, by index), in that order
  const ref = (r: FusedRef) => ('arg' in r ? `h${args.indexOf(r.arg)}[i${args.indexOf(r.arg)}]` : anchored && r.node === 0 ? 'o[io]' : `v${r.node}`);
  const ks = args.map((_, k) => k);
  const ops = nodes.map((_, j) => j).filter((j) => !(anchored && j === 0));
  const body = ops.map((j) => `const v${j} = fr(f${j}(${nodes[j]!.inputs.map(ref).join(', ')}));`).join(' ');
  const src = `return function fused(H, o, p) {
  ${ops.map((j) => `const f${j} = F[${j}];`).join(' ')}
  ${ks.map((k) => `const h${k} = H[${k}], s${k} = p.innerStrides[${k}], b${k} = p.bases[${k}];`).join(' ')}
  const so = p.innerStrides[${args.length}], bo = p.bases[${args.length}];
  for (let r = 0; r < p.rows; r++) {
    ${ks.map((k) => `let i${k} = b${k}[r];`).join(' ')} let io = bo[r];
    for (let j = 0; j < p.inner; j++) {
      ${body}
      o[io] = v${nodes.length - 1};
      ${ks.map((k) => `i${k} += s${k};`).join(' ')} io += so;
    }
  }
};`;
  try {
    return new Function('F', 'fr', src)(fns, Math.fround) as Loop;
  } catch {
    return undefined;
  }
}

function fuse({ nodes }: FusionGroup): CpuKernel | undefined {
  const anchored = ANCHORS.has(nodes[0]!.op);
  const first = anchored ? 1 : 0;
  const chain = nodes.slice(first);
  if (!chain.every((n) => FUSIBLE.has(n.op))) return undefined;
  const anchor: CpuKernel | undefined = anchored
    ? (inputs, outputs) => (nodes[0]!.kernel as CpuKernel)(nodes[0]!.inputs.map((r) => inputs[(r as { arg: number }).arg]!), outputs, nodes[0]!.attrs, nodes[0]!.op)
    : undefined;
  // a path (each op reads the one before and args) of ops with SIMD or fast loops: their eager
  // kernels, one after another in place over the output (each reads an element before writing it)
  const path = chain.every((n, j) => n.inputs.every((r) => 'arg' in r || r.node === first + j - 1) && n.inputs.filter((r) => 'node' in r).length === (first + j > 0 ? 1 : 0));
  if (chain.every((n) => FAST_OPS.has(n.op))) {
    if (!path) return undefined;
    return (inputs, outputs) => {
      anchor?.(inputs, outputs, undefined, 'fused');
      const out = outputs[0]!;
      for (const n of chain) (n.kernel as CpuKernel)(n.inputs.map((r) => ('arg' in r ? inputs[r.arg]! : out)), outputs, n.attrs, n.op);
    };
  }
  // the anchor's own operands are not the loop's
  const read = [...new Set(chain.flatMap((n) => n.inputs.flatMap((r) => ('arg' in r ? [r.arg] : []))))];
  const loop = generate(nodes, read, anchored);
  if (!loop) return undefined;
  return (inputs, outputs) => {
    anchor?.(inputs, outputs, undefined, 'fused');
    const out = outputs[0]!;
    const views: readonly CpuView[] = [...read.map((k) => inputs[k]!), out];
    loop(views.map((v) => v.handle), out.handle, plan(out.shape, views.map((v) => broadcastStrides(v, out.shape)), views.map((v) => v.offset)));
  };
}

/**
 * A combined group (compile/combine.ts) as one kernel call: its members' eager kernels, one after
 * another, on the group's operands and outputs. The loss's forward and backward, the weight
 * gradient's product and its bias's sum, read the same operand while it is in cache, and the
 * results are eager's bits; an optimizer's step after the gradients' group updates the
 * parameters in place as its eager kernel does. Only in float32.
 */
function combine(group: CombinedGroup, kind: CombinedKind): CpuKernel | 'partial' | undefined {
  if (![...group.args, ...group.outputs].every((a) => a.dtype === 'float32' || a.dtype === 'int32')) return undefined;
  if (kind.kind === 'partial') return 'partial';
  // each member's attrs of this call (an optimizer step's are read again at each)
  return (inputs, outputs, attrs) => {
    group.nodes.forEach((n, j) => (n.kernel as CpuKernel)(n.inputs.map((k) => inputs[k]!), n.outputs.map((k) => outputs[k]!), (attrs as readonly unknown[])[j], n.op));
  };
}

/** The CPU backend's part in compile's fusion: float32 elementwise ops, epilogues after the ANCHORS, and the combined groups. */
export const cpuFusion: BackendFusion = {
  role(op, inputs, output) {
    if (output !== 'float32' || !inputs.every((d) => OPERAND.includes(d))) return undefined;
    return ANCHORS.has(op) ? 'anchor' : FUSIBLE.has(op) ? 'elementwise' : undefined;
  },
  fuse,
  combine,
};
