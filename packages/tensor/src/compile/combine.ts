import type { FusedArg } from './fuse.js';
import type { Arg, Step, Trace } from './trace.js';

// Combining, after the elementwise pass (fuse.ts) and before plan: kernel steps that share
// buffers (one reads what another wrote, or both read one operand) become one kernel step with
// all their outputs, where the backend knows one kernel for them (`Backend.fusion.combine`):
// a loss's forward and backward, a weight gradient's product and its bias's sum. Unlike the
// elementwise pass, every output stays stored (a member may be a reduction or write several
// outputs: only the backend knows which values its kernel keeps in registers), so this saves
// kernel calls and passes over the operands, not memory.

/** A member of a combined group: its eager kernel, operands as indices into the group's args, outputs into its outputs. */
export interface CombinedNode {
  readonly op: string;
  readonly attrs: unknown;
  readonly kernel: unknown;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}
/** An operand or output of a group: a view of buffer `buf` of the graph (`from`: the index of the group output that buffer is). */
export interface CombinedArg extends FusedArg {
  readonly buf: number;
  readonly from?: number;
}
/**
 * What `Backend.fusion.combine` is asked to make one kernel of: its members in trace order, the
 * operands they read (each once per buffer and view) and the outputs they write, in member
 * order. The kernel is run as `run(kernel, argViews, outputViews, attrs, op)`, where the last
 * member ran, `attrs` holding each member's attrs (those a member reads again at each call, an
 * optimizer step's, as they are at this call); it must write every output as the members would
 * have, in their order, and the operands a member writes in place (an optimizer's parameters).
 */
export interface CombinedGroup {
  readonly nodes: readonly CombinedNode[];
  readonly args: readonly CombinedArg[];
  readonly outputs: readonly CombinedArg[];
}

type KernelStep = Extract<Step, { kind: 'kernel' }>;
const viewOf = (a: Arg): CombinedArg => ({ buf: a.buf, dtype: a.dtype, shape: a.shape, strides: a.strides, offset: a.offset });
const same = (a: Arg, b: Arg) =>
  a.buf === b.buf && a.dtype === b.dtype && a.offset === b.offset && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i] && a.strides[i] === b.strides[i]);

/**
 * Merge groups of kernel steps the backend can run as one kernel: growing each group by a later
 * step that reads a buffer a member reads or writes, nearest first, while the backend answers a
 * kernel or 'partial' (a group it could complete). The group runs where its last member ran, so
 * no step between a member and the last may read what the member writes, or write what it reads
 * or writes. Returns the trace with each complete group as one step, named in `fused`.
 */
export function combine(trace: Trace): Trace {
  const { steps } = trace;
  // (a step may write operands in place too, as an optimizer's step does)
  const eligible = (s: Step): s is KernelStep => s.kind === 'kernel' && !!s.backend.fusion?.combine && s.outputs.every((o, i) => o.buf === s.writes[i]);
  const reads = (i: number) => new Set((steps[i] as KernelStep).inputs.map((a) => a.buf));
  const writes = (i: number) => new Set((steps[i] as KernelStep).writes);
  const legal = (members: readonly number[]): boolean => {
    const last = members.at(-1)!;
    return members.every((m) => {
      const r = reads(m), w = writes(m);
      for (let k = m + 1; k < last; k++) {
        const s = steps[k]!;
        if (members.includes(k)) continue;
        if (s.kind === 'kernel' && (s.inputs.some((a) => w.has(a.buf)) || s.writes.some((b) => w.has(b) || r.has(b)))) return false;
        if (s.kind === 'write' && (w.has(s.buf) || r.has(s.buf))) return false;
        // a device check between (an optimizer's, of the gradients) checks what they are computed from instead (below)
      }
      return true;
    });
  };
  const groupOf = (members: readonly number[]): CombinedGroup => {
    const outputs: CombinedArg[] = [];
    const nodes = members.map((m): CombinedNode => {
      const s = steps[m] as KernelStep;
      return { op: s.op, attrs: s.attrs, kernel: s.kernel, inputs: [], outputs: s.outputs.map((o) => outputs.push(viewOf(o)) - 1) };
    });
    const args: CombinedArg[] = [];
    const inputs: Arg[] = [];
    members.forEach((m, j) => {
      for (const a of (steps[m] as KernelStep).inputs) {
        let k = inputs.findIndex((x) => same(x, a));
        if (k < 0) {
          const from = outputs.findIndex((o) => o.buf === a.buf);
          k = inputs.push(a) - 1;
          args.push(from >= 0 ? { ...viewOf(a), from } : viewOf(a));
        }
        (nodes[j]!.inputs as number[]).push(k);
      }
    });
    return { nodes, args, outputs };
  };

  const member = new Map<number, { members: number[]; kernel: unknown }>();
  // the eligible steps that read or write each buffer, in trace order
  const touching = new Map<number, number[]>();
  steps.forEach((s, c) => {
    if (!eligible(s)) return;
    const earlier = new Set<number>();
    for (const a of s.inputs) for (const p of touching.get(a.buf) ?? []) if ((steps[p] as KernelStep).backend === s.backend) earlier.add(p);
    for (const b of new Set([...s.inputs.map((a) => a.buf), ...s.writes])) {
      const list = touching.get(b);
      if (list) list.push(c);
      else touching.set(b, [c]);
    }
    for (const p of [...earlier].sort((x, y) => y - x)) {
      const g = member.get(p);
      // a complete group grows only into a larger one; a partial one may give its member up
      const bases = g ? (g.kernel === 'partial' && g.members.length > 1 ? [g.members, [p]] : [g.members]) : [[p]];
      const found = bases.some((base) => {
        const members = [...base, c];
        // the pattern and the backend's answer first: few groups pass them, and legality walks
        // the steps between. The pass recognizes, not the backends, so that a page that never
        // compiles does not load the patterns with a backend's code
        const group = groupOf(members);
        const kind = recognize(group);
        const kernel = kind && s.backend.fusion!.combine!(group, kind);
        if (kernel === undefined || !legal(members)) return false;
        const entry = { members, kernel };
        for (const m of members) member.set(m, entry);
        return true;
      });
      if (found) return;
    }
  });

  const replaced = new Map<number, Step>();
  const dropped = new Set<number>();
  const fused: string[] = [];
  const inner: string[] = [];
  for (const g of new Set(member.values())) {
    if (g.kernel === 'partial') continue;
    const { nodes, args, outputs } = groupOf(g.members);
    const ms = g.members.map((m) => steps[m] as KernelStep);
    const last = ms.at(-1)!;
    const arg = (a: CombinedArg): Arg => ({ buf: a.buf, dtype: a.dtype, shape: a.shape, strides: a.strides, offset: a.offset });
    // a member the elementwise pass made is named by its ops, and listed once, in the combined name
    const op = `fused(${nodes.map((n) => n.op.replace(/^fused\((.*)\)$/, '$1')).join(',')})`;
    for (const n of nodes) if (n.op.startsWith('fused(')) inner.push(n.op);
    fused.push(op);
    const live = ms.some((s) => s.live) ? () => ms.map((s) => (s.live ? s.live() : s.attrs)) : undefined;
    replaced.set(g.members.at(-1)!, {
      kind: 'kernel', op, backend: last.backend, kernel: g.kernel, inputs: args.map(arg), outputs: outputs.map(arg), attrs: ms.map((s) => s.attrs), live, writes: [...new Set(ms.flatMap((s) => s.writes))],
    });
    for (const m of g.members.slice(0, -1)) dropped.add(m);
    // a check between members (before the group's kernel now) of a member's output checks what
    // the members compute it from: a failure found there is the output's too
    const made = new Map(ms.flatMap((s) => s.writes.map((b) => [b, s] as const)));
    const from = (b: number, seen = new Set<number>()): number[] => {
      const s = made.get(b);
      if (!s || seen.has(b)) return [b];
      seen.add(b);
      return s.inputs.flatMap((a) => from(a.buf, seen));
    };
    for (let k = g.members[0]! + 1; k < g.members.at(-1)!; k++) {
      const s = steps[k]!;
      if (s.kind === 'check' && s.bufs.some((b) => made.has(b) && made.get(b) !== last)) replaced.set(k, { ...s, bufs: [...new Set(s.bufs.flatMap((b) => (made.get(b) === last ? [b] : from(b))))] });
    }
  }
  if (!fused.length) return trace;
  const before = [...(trace.fused ?? [])];
  for (const op of inner) before.splice(before.indexOf(op), 1);
  return { ...trace, steps: steps.flatMap((s, i) => (dropped.has(i) ? [] : [replaced.get(i) ?? s])), fused: [...before, ...fused] };
}

/** A group the combine pass recognizes (recognize, below), with its members' indices by role: what `Backend.fusion.combine` is handed. */
export type CombinedKind =
  | { readonly kind: 'crossEntropy'; readonly forward: number; readonly backward: number }
  | { readonly kind: 'biasGrad' | 'convBiasGrad'; readonly product: number; readonly sum: number }
  | { readonly kind: 'linearCrossEntropy'; readonly linear: number; readonly forward: number; readonly backward: number }
  | { readonly kind: 'linearBackward'; readonly product: number; readonly sum: number; readonly input: number }
  | { readonly kind: 'optimizer'; readonly producer: Exclude<CombinedKind, { kind: 'partial' | 'optimizer' }>; readonly step: number }
  | { readonly kind: 'convPool'; readonly conv: number; readonly pool: number }
  | { readonly kind: 'convBackward'; readonly inputGrad: number; readonly weightGrad: number; readonly sum: number; readonly poolBackward?: number }
  | { readonly kind: 'partial' };
/**
 * The groups both backends combine, recognized once here (the kernels are theirs) and handed to
 * `Backend.fusion.combine` with the group:
 * - 'crossEntropy': crossEntropy's forward and its backward on the same logits and target
 *   (the backward reading the forward's stats and total weight);
 * - 'biasGrad': a linear layer's weight gradient Gᵀ·X (a matmul whose first operand is G
 *   transposed, G of shape (N, C) dense) and its bias gradient, the sum of G over its rows;
 * - 'convBiasGrad': conv2dWeightGrad(x, G) and the sum of G over all but its channel dim;
 * - 'linearCrossEntropy': a linear layer whose logits only a crossEntropy pair reads, and that pair
 *   ('partial' for the linear and the forward alone);
 * - 'linearBackward': a 'biasGrad' group and the layer's input gradient G·W (linearBackward, below);
 * - 'optimizer': a group of those and the multi-tensor optimizer step after it (optimizer, below).
 * - 'convPool': a conv2d (with its epilogue, a step of the elementwise pass whose attrs are its
 *   group) and the maxPool2d of its output over windows that tile it (stride = kernel size, no
 *   padding or dilation, the last rows and columns that fill no window dropped);
 * - 'convBackward': a convolution's conv2dInputGrad and its conv2dWeightGrad and bias sum (convBiasGrad)
 *   of one output gradient ('partial' for the first two), and, if one follows, the maxPool2dBackward
 *   (with its epilogue) that reads the input gradient, over windows that tile its input as in 'convPool'.
 * Anything else: undefined.
 */
function recognize(group: CombinedGroup): CombinedKind | undefined {
  const { nodes, args, outputs } = group;
  const ops = nodes.map((n) => n.op).join(',');
  if (FOREACH.has(nodes.at(-1)!.op)) return optimizer(group);
  // two products (one may carry an epilogue) and perhaps a sum: a linear layer's backward or none
  if (nodes.every((n) => n.op === 'sum' || isMatmul(n.op)) && nodes.filter((n) => isMatmul(n.op)).length === 2) return linearBackward(group);
  if (/^(fused\()?conv2d[,)]/.test(ops) && nodes.length === 2 && nodes[1]!.op === 'maxPool2d') {
    const x = args[nodes[1]!.inputs[0]!]!, y = outputs[nodes[1]!.outputs[0]!]!;
    return x.from === nodes[0]!.outputs[0] && sameView(x, outputs[x.from]!) && tiles(nodes[1]!.attrs, x, y) ? { kind: 'convPool', conv: 0, pool: 1 } : undefined;
  }
  if (ops.startsWith('conv2dInputGrad,conv2dWeightGrad')) {
    const [d, w] = [nodes[0]!, nodes[1]!];
    const [da, wa] = [d.attrs, w.attrs] as { stride: number[]; padding: number[]; dilation: number[]; groups: number }[];
    const geometry = (a: typeof da) => `${a!.stride};${a!.padding};${a!.dilation};${a!.groups}`;
    // the same output gradient, geometry and shapes (two convolutions can share a gradient: y = conv(a) + conv(b))
    const shapes = outputs[d.outputs[0]!]!.shape.join() === args[w.inputs[0]!]!.shape.join() && args[d.inputs[1]!]!.shape.join() === outputs[w.outputs[0]!]!.shape.join();
    if (d.inputs[0] !== w.inputs[1] || geometry(da) !== geometry(wa) || !shapes) return undefined;
    if (nodes.length === 2) return { kind: 'partial' };
    if (biasGrad(group, 1, 2)?.kind !== 'convBiasGrad') return undefined;
    if (nodes.length === 3) return { kind: 'convBackward', inputGrad: 0, weightGrad: 1, sum: 2 };
    const p = nodes[3]!;
    if (nodes.length !== 4 || !/^(fused\()?maxPool2dBackward([,)]|$)/.test(p.op)) return undefined;
    // the pool's attrs: its own, or its group's anchor's
    const pa = p.op === 'maxPool2dBackward' ? p.attrs : (p.attrs as { nodes: readonly { attrs: unknown }[] }).nodes[0]!.attrs;
    const g = args[p.inputs[0]!]!, dx = outputs[p.outputs[0]!]!;
    const ok = g.from === d.outputs[0] && sameView(g, outputs[g.from]!) && tiles(pa, dx, g);
    return ok ? { kind: 'convBackward', inputGrad: 0, weightGrad: 1, sum: 2, poolBackward: 3 } : undefined;
  }
  const outOf = (j: number, q: number) => (a: number) => args[a]!.from === nodes[j]!.outputs[q];
  // the backward reads the forward's logits and target (the same views), stats and total weight,
  // its class weight if any, and its exps if it saved them
  const pair = (f: number, b: number) => {
    const [F, B] = [nodes[f]!, nodes[b]!];
    const exps = F.outputs.length > 3 ? [B.inputs.at(-1)!] : [];
    return (
      JSON.stringify(F.attrs) === JSON.stringify(B.attrs) && B.inputs[0] === F.inputs[0] && B.inputs[1] === F.inputs[1] &&
      outOf(f, 1)(B.inputs[2]!) && outOf(f, 2)(B.inputs[3]!) && B.inputs.length === 5 + F.inputs.length - 2 + exps.length &&
      (F.inputs.length < 3 || B.inputs[5] === F.inputs[2]) && exps.every(outOf(f, 3))
    );
  };
  if (ops === 'crossEntropy,crossEntropyBackward') return pair(0, 1) ? { kind: 'crossEntropy', forward: 0, backward: 1 } : undefined;
  if (ops === 'linear,crossEntropy' || ops === 'linear,crossEntropy,crossEntropyBackward') {
    if (!outOf(0, 0)(nodes[1]!.inputs[0]!)) return undefined;
    if (nodes.length === 2) return { kind: 'partial' };
    return pair(1, 2) ? { kind: 'linearCrossEntropy', linear: 0, forward: 1, backward: 2 } : undefined;
  }
  if (ops !== 'matmul,sum' && ops !== 'conv2dWeightGrad,sum') return undefined;
  return biasGrad(group, 0, 1);
}

/** 'biasGrad' or 'convBiasGrad' where node `p` is the weight gradient and node `s` the bias's sum. */
function biasGrad({ nodes, args, outputs }: CombinedGroup, p: number, s: number): CombinedKind | undefined {
  const [P, S] = [nodes[p]!, nodes[s]!];
  if (S.op !== 'sum' || (P.op !== 'matmul' && P.op !== 'conv2dWeightGrad')) return undefined;
  const g = args[S.inputs[0]!]!;
  const dims = (S.attrs as { dims: readonly number[] }).dims;
  const C = g.shape.at(-1)!;
  let dense = g.offset === 0;
  for (let d = g.shape.length - 1, s = 1; d >= 0; s *= g.shape[d]!, d--) dense &&= g.shape[d] === 1 || g.strides[d] === s;
  if (g.dtype !== 'float32' || !dense) return undefined;
  const sumOut = outputs[S.outputs[0]!]!;
  if (P.op === 'conv2dWeightGrad') {
    const gw = args[P.inputs[1]!]!;
    const ok = g.shape.length === 4 && gw.buf === g.buf && gw.shape.every((d, i) => d === g.shape[i] && gw.strides[i] === g.strides[i]) && dims.join() === '0,2,3';
    return ok && sumOut.shape.join() === `${g.shape[1]}` ? { kind: 'convBiasGrad', product: p, sum: s } : undefined;
  }
  const a = args[P.inputs[0]!]!;
  const N = g.shape.slice(0, -1).reduce((n, d) => n * d, 1);
  const ok =
    a.buf === g.buf && a.offset === 0 && a.shape.join() === `${C},${N}` && a.strides.join() === `1,${C}` &&
    dims.join() === g.shape.slice(0, -1).map((_, i) => i).join() && sumOut.shape.join() === `${C}` && outputs[P.outputs[0]!]!.shape.length === 2;
  return ok ? { kind: 'biasGrad', product: p, sum: s } : undefined;
}

/** A matmul, or a group the elementwise pass made of one and its epilogue (`fused(matmul,...)`). */
const isMatmul = (op: string) => op === 'matmul' || op.startsWith('fused(matmul,');
/**
 * 'linearBackward': a linear layer's whole backward, its weight gradient Gᵀ·X with its bias's
 * sum (a 'biasGrad' pair) and its input gradient G·W, a matmul with whatever epilogue the
 * elementwise pass gave it (relu's backward, ...), reading G through the sum's view and a W of
 * the weight gradient's shape that no member writes. In trace order either the input gradient
 * last, or first (then 'partial' until the sum comes).
 */
function linearBackward(group: CombinedGroup): CombinedKind | undefined {
  const { nodes, args, outputs } = group;
  const input = nodes.findIndex((n) => isMatmul(n.op) && !biasGradProduct(group, n));
  if (input < 0 || nodes.length > 3 || (nodes.length === 3 && input === 1)) return undefined;
  const product = input === 0 ? 1 : 0;
  const [X, P] = [nodes[input]!, nodes[product]!];
  if (!P || !biasGradProduct(group, P)) return undefined;
  const [g, w] = X.inputs.map((k) => args[k]!);
  const gt = args[P.inputs[0]!]!;
  if (g!.buf !== gt.buf || g!.from !== undefined || w!.from !== undefined || w!.shape.join() !== outputs[P.outputs[0]!]!.shape.join()) return undefined;
  if (nodes.length === 2) return input === 0 ? { kind: 'partial' } : undefined;
  const sum = 3 - input - product;
  return nodes[sum]!.inputs[0] === X.inputs[0] && biasGrad(group, product, sum) ? { kind: 'linearBackward', product, sum, input } : undefined;
}
/** A plain matmul whose first operand is a 2-d G read transposed (a weight gradient's Gᵀ·X). */
const biasGradProduct = ({ args }: CombinedGroup, n: CombinedNode) => {
  const a = args[n.inputs[0]!]!;
  return n.op === 'matmul' && a.shape.length === 2 && a.strides[0] === 1 && a.strides[1] === a.shape[0];
};

/** The multi-tensor optimizer steps (@tapegrad/nn's optim/fused.ts): a parameter's inputs are its parameter, gradient and state. */
const FOREACH = new Set(['sgdStepForeach', 'adamStepForeach']);
/**
 * 'optimizer': the multi-tensor step joined to the group that wrote gradients it reads (the last
 * ones of a backward pass), which the pass recognizes without it (`producer`).
 */
function optimizer(group: CombinedGroup): CombinedKind | undefined {
  const { nodes, args } = group;
  if (nodes.length < 3) return undefined;
  const producer = recognize({ ...group, nodes: nodes.slice(0, -1) });
  const step = nodes.at(-1)!;
  const width = step.inputs.length / (step.attrs as { each: readonly unknown[] }).each.length;
  const gradients = step.inputs.filter((_, i) => i % width === 1);
  if (!producer || producer.kind === 'partial' || producer.kind === 'optimizer' || !gradients.some((k) => args[k]!.from !== undefined)) return undefined;
  return { kind: 'optimizer', producer, step: nodes.length - 1 };
}

const sameView = (a: FusedArg, b: FusedArg) => a.offset === b.offset && a.shape.join() === b.shape.join() && a.strides.join() === b.strides.join();
/** A max pool from x to y whose windows tile x (stride = kernel size, no padding or dilation), dropping the rows and columns that fill none. */
function tiles(attrs: unknown, x: FusedArg, y: FusedArg): boolean {
  const a = attrs as { kernelSize: number[]; stride: number[]; padding: number[]; dilation: number[] };
  return (
    x.shape.length === 4 && y.shape.length === 4 && a.stride.join() === a.kernelSize.join() && a.padding.join() === '0,0' && a.dilation.join() === '1,1' &&
    y.shape[2] === Math.floor(x.shape[2]! / a.kernelSize[0]!) && y.shape[3] === Math.floor(x.shape[3]! / a.kernelSize[1]!) && y.shape[2]! > 0 && y.shape[3]! > 0
  );
}
