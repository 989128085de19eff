import type { BackendFusion, DType, FusedNode, FusedRef, FusionGroup, TypedArray } from '@tapegrad/tensor';
import { broadcastStrides, plan, type CpuKernel, type CpuView } from './strided.js';
import { FUSIBLE } from './kernels/elementwise.js';

// Fusion on the CPU (the pass: @tapegrad/tensor's compile/fuse.ts). A group's elementwise ops
// run as one loop generated for it, calling each op's scalar function from FUSIBLE, the very
// function its eager kernel applies, and rounding every value to float32 as eager's store into
// a Float32Array does: so a fused chain gives eager's bits. An anchor (a matmul, linear or
// convolution) writes the group's output, and the chain then runs over it in place, while it is
// still in cache; an epilogue of one op runs that op's eager kernel in place instead (its
// WebAssembly SIMD loop where it has one), which measured faster than generated code for the
// epilogues of the MNIST steps (docs/performance.md).

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
function generate(nodes: readonly FusedNode[], args: number, anchored: boolean): Loop | undefined {
  const fns = nodes.map((n, j) => (anchored && j === 0 ? () => 0 : FUSIBLE.get(n.op)!(n.attrs)));
  const ref = (r: FusedRef) => ('arg' in r ? `h${r.arg}[i${r.arg}]` : anchored && r.node === 0 ? 'o[io]' : `v${r.node}`);
  const ks = Array.from({ length: args }, (_, k) => k);
  const body = nodes.map((n, j) => (anchored && j === 0 ? '' : `const v${j} = fr(F[${j}](${n.inputs.map(ref).join(', ')}));`)).join(' ');
  const src = `return function fused(H, o, p) {
  ${ks.map((k) => `const h${k} = H[${k}], s${k} = p.innerStrides[${k}], b${k} = p.bases[${k}];`).join(' ')}
  const so = p.innerStrides[${args}], bo = p.bases[${args}];
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

function fuse({ nodes, args }: FusionGroup): CpuKernel | undefined {
  const anchored = ANCHORS.has(nodes[0]!.op);
  const chain = anchored ? nodes.slice(1) : nodes;
  if (!chain.every((n) => FUSIBLE.has(n.op))) return undefined;
  const anchor: CpuKernel | undefined = anchored
    ? (inputs, outputs) => (nodes[0]!.kernel as CpuKernel)(nodes[0]!.inputs.map((r) => inputs[(r as { arg: number }).arg]!), outputs, nodes[0]!.attrs, nodes[0]!.op)
    : undefined;
  if (anchored && chain.length === 1) {
    const n = chain[0]!;
    return (inputs, outputs) => {
      anchor!(inputs, outputs, undefined, n.op);
      const out = outputs[0]!;
      (n.kernel as CpuKernel)(n.inputs.map((r) => ('arg' in r ? inputs[r.arg]! : out)), outputs, n.attrs, n.op);
    };
  }
  const loop = generate(nodes, args.length, anchored);
  if (!loop) return undefined;
  return (inputs, outputs) => {
    anchor?.(inputs, outputs, undefined, 'fused');
    const out = outputs[0]!;
    const views: readonly CpuView[] = [...inputs, out];
    loop(inputs.map((v) => v.handle), out.handle, plan(out.shape, views.map((v) => broadcastStrides(v, out.shape)), views.map((v) => v.offset)));
  };
}

/** The CPU backend's part in compile's fusion: float32 elementwise ops, and epilogues after the ANCHORS. */
export const cpuFusion: BackendFusion = {
  role(op, inputs, output) {
    if (output !== 'float32' || !inputs.every((d) => OPERAND.includes(d))) return undefined;
    return ANCHORS.has(op) ? 'anchor' : FUSIBLE.has(op) ? 'elementwise' : undefined;
  },
  fuse,
};
