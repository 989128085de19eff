import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { Arg, Buf, Step, Trace } from './trace.js';
import type { CombinedGroup, CombinedKind } from './combine.js';

// Fusion, between trace and plan: a kernel step whose every input buffer is either from outside
// the group or made by another member, read by nobody else, becomes part of one step. The pass
// only decides *which* steps may merge, from the graph; the backend says which ops it can fuse
// (`Backend.fusion.role`) and makes the kernel (`fuse`), or declines and the steps stay.

/** A group's input from outside it: a buffer's view as the trace saw it (broadcast views included). */
export interface FusedArg {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}
/** A node's operand: the group's input `arg`, or the value of an earlier `node`. */
export type FusedRef = { readonly arg: number } | { readonly node: number };
/** One op of a fused group, as the trace recorded it (its kernel is the eager one). */
export interface FusedNode {
  readonly op: string;
  readonly attrs: unknown;
  readonly kernel: unknown;
  readonly inputs: readonly FusedRef[];
  readonly dtype: DType;
  readonly shape: Shape;
}
/**
 * What `Backend.fusion.fuse` is asked to make one kernel of: nodes in an order that computes
 * each before its readers, the last one the result. Only `nodes[0]` may be an 'anchor' (a
 * matmul, conv2d..., or a reduction that took no prologue: its output is the first value of the
 * chain, an epilogue follows), and only the last node a 'reduction' (its one input the chain's
 * value: a prologue precedes it; the group's output is its output). Every other node is elementwise over the chain's shape,
 * reading its node operands element for element and its args through their views. The kernel
 * is run as `run(kernel, argViews, [outputView], undefined, op)`.
 */
export interface FusionGroup {
  readonly nodes: readonly FusedNode[];
  readonly args: readonly FusedArg[];
  readonly output: FusedArg;
}
/** What a backend tells the fusion pass (`Backend.fusion`). */
export interface BackendFusion {
  /**
   * An op's part in fusion: 'elementwise' (each output element a function of the inputs'
   * elements at its index, broadcast), 'anchor' (a kernel with one output that an elementwise
   * epilogue may follow), 'reduction' (a kernel of one input that an elementwise prologue may
   * compute as it reads), or undefined (never fused).
   */
  role(op: string, inputs: readonly DType[], output: DType): 'elementwise' | 'anchor' | 'reduction' | undefined;
  /** One kernel computing the group's result, or undefined to leave its steps as they are. */
  fuse(group: FusionGroup): unknown;
  /**
   * One kernel for kernel steps that share buffers, with all their outputs (compile/combine.ts),
   * asked only of a group the pass recognized as `kind`; 'partial' for a group a later step could
   * complete; undefined for a group it has no kernel for.
   */
  combine?(group: CombinedGroup, kind: CombinedKind): unknown;
}

type KernelStep = Extract<Step, { kind: 'kernel' }>;
interface Group {
  readonly members: number[];
  anchor: number;
  /** Ends in a reduction: nothing may read its value as an element of the chain's shape. */
  readonly sink: boolean;
  absorbed: boolean;
}

const sameView = (a: FusedArg, b: FusedArg) =>
  a.dtype === b.dtype && a.offset === b.offset && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i] && a.strides[i] === b.strides[i]);
const numel = (s: Shape) => s.reduce((n, d) => n * d, 1);
/** Row-major over the whole buffer, from its start: what a fresh eager output is. */
function dense(a: Arg, b: Buf): boolean {
  let expected = 1;
  for (let d = a.shape.length - 1; d >= 0; d--) {
    if (a.shape[d] !== 1 && a.strides[d] !== expected) return false;
    expected *= a.shape[d]!;
  }
  return a.offset === 0 && numel(a.shape) === b.length;
}

/**
 * Merge chains and trees of elementwise kernel steps (and an anchor whose output only they
 * read) into one step each, where the backend makes a kernel for them. An intermediate merges
 * only if nothing outside the group can see it: made in the trace, read by exactly one kernel
 * (through the very view it was written as), written by no other step, neither kept (a result,
 * a `.grad`) nor checked; and no step between writes a buffer the group reads. Returns the
 * trace with the merged steps, their intermediates' allocations gone, and `fused` naming them.
 */
export function fuse(trace: Trace): Trace {
  const { bufs, steps } = trace;
  const kept = new Set(trace.made.map((m) => m.buf));
  const producer = new Int32Array(bufs.length).fill(-1);
  const readers: number[][] = bufs.map(() => []);
  // buffers something other than their one producing kernel writes, or a check reads
  const blocked = new Set<number>();
  steps.forEach((s, i) => {
    if (s.kind === 'kernel') {
      for (const a of s.inputs) readers[a.buf]!.push(i);
      for (const b of s.writes) {
        if (producer[b] !== -1 || !s.outputs.some((o) => o.buf === b)) blocked.add(b);
        producer[b] = i;
      }
    } else if (s.kind === 'check') s.bufs.forEach((b) => blocked.add(b));
    else if (s.kind === 'write') blocked.add(s.buf);
  });
  const roles = steps.map((s) => {
    if (s.kind !== 'kernel' || !s.backend.fusion || s.live || s.outputs.length !== 1 || s.writes.length !== 1) return undefined;
    if (!dense(s.outputs[0]!, bufs[s.outputs[0]!.buf]!)) return undefined;
    return s.backend.fusion.role(s.op, s.inputs.map((a) => a.dtype), s.outputs[0]!.dtype);
  });
  const groups: (Group | undefined)[] = steps.map((_, i) => (roles[i] ? { members: [i], anchor: roles[i] === 'anchor' ? i : -1, sink: roles[i] === 'reduction', absorbed: false } : undefined));
  // the group will run at `to`: no step after a member and before `to` may write what that member reads
  const writesBetween = (g: Group, to: number): boolean =>
    g.members.some((m) => {
      const reads = new Set((steps[m] as KernelStep).inputs.map((a) => a.buf));
      for (let k = m + 1; k < to; k++) {
        const s = steps[k]!;
        if (s.kind === 'kernel' && !g.members.includes(k) && s.writes.some((b) => reads.has(b))) return true;
        if (s.kind === 'write' && reads.has(s.buf)) return true;
      }
      return false;
    });
  steps.forEach((s, c) => {
    const reduction = roles[c] === 'reduction';
    if (roles[c] !== 'elementwise' && !(reduction && (s as KernelStep).inputs.length === 1)) return;
    const step = s as KernelStep, g = groups[c]!;
    const out = step.outputs[0]!;
    for (const b of new Set(step.inputs.map((a) => a.buf))) {
      const p = producer[b]!, pg = p >= 0 ? groups[p] : undefined;
      // a reduction that took no prologue may anchor an epilogue (the division of a mean)
      const asAnchor = pg?.sink === true && pg.members.length === 1 && !reduction;
      if (!pg || pg.absorbed || (pg.sink && !asAnchor) || blocked.has(b) || kept.has(b) || !bufs[b]!.born) continue;
      const ps = steps[p] as KernelStep;
      if (ps.backend !== step.backend || readers[b]!.some((r) => r !== c) || !step.inputs.every((a) => a.buf !== b || sameView(a, ps.outputs[0]!))) continue;
      // an elementwise reader has the producer's shape; a reduction reads the chain whole, and no anchor
      if (reduction ? pg.anchor >= 0 : !sameView({ ...ps.outputs[0]!, dtype: out.dtype }, out)) continue;
      if (((pg.anchor >= 0 || asAnchor) && g.anchor >= 0) || writesBetween(pg, c)) continue;
      g.members.push(...pg.members);
      if (pg.anchor >= 0 || asAnchor) g.anchor = asAnchor ? p : pg.anchor;
      pg.absorbed = true;
    }
  });

  /** The group's kernel step, or undefined where the backend declines. */
  const build = (members: readonly number[], anchor: number, c: number): KernelStep | undefined => {
    const order = members.filter((m) => m !== anchor).sort((x, y) => x - y);
    if (anchor >= 0) order.unshift(anchor);
    const nodeOf = new Map(order.map((m, i) => [m, i]));
    const argBufs: Arg[] = [];
    const nodes = order.map((m): FusedNode => {
      const s = steps[m] as KernelStep;
      const inputs = s.inputs.map((a): FusedRef => {
        const p = producer[a.buf]!;
        if (nodeOf.has(p) && p !== m) return { node: nodeOf.get(p)! };
        let k = argBufs.findIndex((x) => x.buf === a.buf && sameView(x, a));
        if (k < 0) k = argBufs.push(a) - 1;
        return { arg: k };
      });
      return { op: s.op, attrs: s.attrs, kernel: s.kernel, inputs, dtype: s.outputs[0]!.dtype, shape: s.outputs[0]!.shape };
    });
    const args = argBufs.map((a): FusedArg => ({ dtype: a.dtype, shape: a.shape, strides: a.strides, offset: a.offset }));
    const last = steps[c] as KernelStep;
    const out = last.outputs[0]!;
    // the step's attrs are its group: a combined kernel (combine.ts) built around it may need its anchor's attrs and epilogue
    const group: FusionGroup = { nodes, args, output: { dtype: out.dtype, shape: out.shape, strides: out.strides, offset: out.offset } };
    const kernel = last.backend.fusion!.fuse(group);
    if (kernel === undefined) return undefined;
    const op = `fused(${nodes.map((n) => n.op).join(',')})`;
    return { kind: 'kernel', op, backend: last.backend, kernel, inputs: argBufs, outputs: [out], attrs: group, live: undefined, writes: [out.buf] };
  };
  const replaced = new Map<number, KernelStep>();
  const dropped = new Set<number>();
  const dropAlloc = new Set<number>();
  const newBufs = bufs.slice();
  const fused: string[] = [];
  steps.forEach((_, c) => {
    const g = groups[c];
    if (!g || g.absorbed || g.members.length < 2) return;
    let { members, anchor } = g;
    let step = build(members, anchor, c);
    // a backend that cannot take the epilogue into its anchor may still fuse the chain
    if (!step && anchor >= 0 && members.length > 2) {
      members = members.filter((m) => m !== anchor);
      anchor = -1;
      step = build(members, anchor, c);
    }
    if (!step) return;
    fused.push(step.op);
    replaced.set(c, step);
    for (const m of members) if (m !== c) dropped.add(m), dropAlloc.add((steps[m] as KernelStep).outputs[0]!.buf);
    // the anchor now writes the group's output: that buffer comes zeroed if the anchor's did
    const out = step.outputs[0]!;
    const anchorZero = anchor >= 0 && bufs[(steps[anchor] as KernelStep).outputs[0]!.buf]!.born!.zero;
    const ob = bufs[out.buf]!;
    if (anchorZero && !ob.born!.zero) newBufs[out.buf] = { ...ob, born: { zero: true } };
  });
  if (!fused.length) return trace;
  const out: Step[] = [];
  steps.forEach((s, i) => {
    if (dropped.has(i) || (s.kind === 'alloc' && dropAlloc.has(s.buf))) return;
    out.push(replaced.get(i) ?? s);
  });
  return { ...trace, bufs: newBufs, steps: out, fused };
}
