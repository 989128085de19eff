import type { Backend, Device, TensorView } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import { fmt, type Shape } from '../shape.js';
import type { Storage, Tensor } from '../tensor.js';
import type { TraceHooks } from './hooks.js';

// A trace is one eager run of the function, watched: every storage it allocates, every host
// write and kernel, and every tensor it touches that it did not make (an argument, a captured
// parameter or optimizer state, the `.grad` of one of those). The result is a graph over buffers,
// with what a replay needs to find the outside ones again and the effects it must repeat.

/** Where a replay finds a tensor the function did not make: an argument, a captured tensor, or the `.grad` of one. */
export type Source = { readonly arg: number } | { readonly tensor: Tensor } | { readonly gradOf: Source };

/** What a guard checks of an outside tensor. */
export interface Meta {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly device: Device;
  readonly requiresGrad: boolean;
  readonly leaf: boolean;
}
export const metaOf = (t: Tensor): Meta => ({ shape: t.shape, strides: t.strides, offset: t.offset, dtype: t.dtype, device: t.device, requiresGrad: t.requiresGrad, leaf: t.gradFn === null });

/** A storage of the trace: allocated by it (`born`), or an outside one found through `sources`. */
export interface Buf {
  readonly id: number;
  readonly backend: Backend;
  readonly dtype: DType;
  readonly length: number;
  readonly born?: { readonly zero: boolean };
  readonly sources: { readonly source: Source; readonly meta: Meta }[];
  /** Outside buffers: the version when first seen, and how many in-place writes the trace made. */
  readonly version0: number;
  versionDelta: number;
}
/** A kernel operand: a buffer and how the kernel indexes it. */
export interface Arg {
  readonly buf: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}
export type Step =
  | { readonly kind: 'alloc'; readonly buf: number }
  | { readonly kind: 'check'; readonly backend: Backend; readonly bufs: readonly number[] }
  | { readonly kind: 'write'; readonly buf: number; readonly data: TypedArray | (() => TypedArray) }
  | {
      readonly kind: 'kernel';
      readonly op: string;
      readonly backend: Backend;
      readonly kernel: unknown;
      readonly inputs: readonly Arg[];
      readonly outputs: readonly Arg[];
      readonly attrs: unknown;
      readonly live: (() => unknown) | undefined;
      /** Buffers the kernel writes: its outputs and the inputs it mutates. */
      readonly writes: readonly number[];
    };
/** A tensor the function leaves behind: its own (a buffer and a view of it), or an outside one. */
export type Made = { readonly buf: number; readonly dtype: DType; readonly shape: Shape; readonly strides: readonly number[]; readonly offset: number; readonly kept: boolean };
export type Ref = { readonly made: number } | { readonly source: Source };

export interface ValueGuard {
  readonly read: () => unknown;
  readonly value: unknown;
  readonly what: string;
}
/** A finished trace: a replayable graph, or why not. */
export interface Trace {
  readonly bufs: readonly Buf[];
  readonly steps: readonly Step[];
  /** `.grad` slots of outside tensors the function touched: what they held at its start (guarded) and at its end (set by a replay). */
  readonly slots: readonly { readonly owner: Source; readonly initial: Meta | null; readonly final: Ref | null | undefined }[];
  readonly guards: readonly ValueGuard[];
  /** Outside tensors the function disposed. */
  readonly disposes: readonly Source[];
  /** The tensors the function made and left behind (results, gradients), each once. */
  readonly made: readonly Made[];
  /** The result with its tensors replaced by their refs. */
  readonly result: unknown;
  readonly counts: { readonly kernels: number; readonly views: number; readonly writes: number; readonly tensors: number };
  /** The fused steps' ops ('fused(add,relu)'), once compile/fuse.ts has run. */
  readonly fused?: readonly string[];
}
/** Why a trace cannot be replayed; `retry` when the next call may trace one that can. */
export interface TraceFailure {
  readonly reason: string;
  readonly retry: boolean;
}

const describe = (t: Tensor) => `${t.dtype} ${fmt(t.shape)}`;

/** Rebuild `value` (a tensor, arrays and plain objects of them, null or undefined) with each tensor mapped by `f`. */
export function mapResult(value: unknown, f: (t: Tensor) => unknown): unknown {
  if (value === null || value === undefined) return value;
  if ((value as { __isTensor?: boolean }).__isTensor) return f(value as Tensor);
  if (Array.isArray(value)) return value.map((v) => mapResult(v, f));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapResult(v, f)]));
  }
  throw new TypeError(typeof value === 'object' ? 'an object that is not an array or a plain object' : `a ${typeof value}`);
}

/** A result template's place for a tensor, told apart from the caller's own plain objects. */
class ResultRef {
  constructor(readonly ref: Ref) {}
}
/** The result of a trace, rebuilt with a tensor for each ref. */
export function rebuild(template: unknown, f: (r: Ref) => Tensor): unknown {
  if (template instanceof ResultRef) return f(template.ref);
  if (Array.isArray(template)) return template.map((v) => rebuild(v, f));
  if (template !== null && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, rebuild(v, f)]));
  return template;
}

export class Tracer implements TraceHooks {
  private readonly bufs: Buf[] = [];
  private readonly steps: Step[] = [];
  private readonly byStorage = new Map<Storage, Buf>();
  private readonly storages: Storage[] = [];
  private readonly sourceOf = new Map<Tensor, Source>();
  /** Tensors made by the trace (all), and those still alive. */
  readonly made = new Set<Tensor>();
  private readonly alive = new Set<Tensor>();
  // Made untracked: autograd's saved tensors and leaf gradients. Saved tensors still alive at the
  // end belong to nodes no backward reached; once results are detached and no outside tensor took
  // a node (checked below), nothing reaches them, and a replay need not make them.
  private readonly saved = new Set<Tensor>();
  private readonly slots = new Map<Tensor, { owner: Source; initial: Meta | null; initialTensor: Tensor | null }>();
  private readonly guards: ValueGuard[] = [];
  private readonly guarded = new Set<object>();
  /** Outside tensors that were leaves when first seen. */
  private readonly leaves = new Set<Tensor>();
  private readonly disposes: Source[] = [];
  private counts = { kernels: 0, views: 0, writes: 0, tensors: 0 };
  private backwards = 0;
  failure: TraceFailure | undefined;

  /** `args`: the tensors among the function's arguments, in walk order. */
  constructor(
    private readonly args: readonly Tensor[],
    private readonly gradEnabled: () => boolean,
  ) {}

  fail(reason: string, retry = false): void {
    this.failure ??= { reason, retry };
  }

  // ---- hooks --------------------------------------------------------------------------------
  alloc(s: Storage, zero: boolean): void {
    const b = this.newBuf(s, { zero });
    this.steps.push({ kind: 'alloc', buf: b.id });
  }
  write(s: Storage, data: TypedArray | (() => TypedArray)): void {
    this.counts.writes++;
    const b = this.byStorage.get(s);
    if (!b) return this.fail('internal: a host write into storage the trace did not see allocated');
    this.steps.push({ kind: 'write', buf: b.id, data });
  }
  kernel(op: string, backend: Backend, kernel: unknown, inputs: readonly Tensor[], inViews: readonly TensorView[], outputs: readonly Tensor[], outViews: readonly TensorView[], attrs: unknown, live: (() => unknown) | undefined, mutates: readonly number[] | undefined): void {
    this.counts.kernels++;
    const arg = (t: Tensor, v: TensorView): Arg => ({ buf: this.bufOf(t), dtype: v.dtype, shape: v.shape, strides: v.strides, offset: v.offset });
    const ins = inputs.map((t, i) => arg(t, inViews[i]!));
    const outs = outputs.map((t, i) => arg(t, outViews[i]!));
    const writes = [...outs.map((a) => a.buf), ...(mutates ?? []).filter((i) => i < ins.length).map((i) => ins[i]!.buf)];
    this.steps.push({ kind: 'kernel', op, backend, kernel, inputs: ins, outputs: outs, attrs, live, writes });
  }
  check(tensors: readonly Tensor[]): void {
    this.steps.push({ kind: 'check', backend: tensors[0]!.storage.backend, bufs: tensors.map((t) => this.bufOf(t)) });
  }
  see(t: Tensor): void {
    if (this.made.has(t) || this.sourceOf.has(t)) return;
    const i = this.args.indexOf(t);
    this.outside(t, i >= 0 ? { arg: i } : { tensor: t });
  }
  view(): void {
    this.counts.views++;
  }
  created(t: Tensor, tracked: boolean): void {
    this.counts.tensors++;
    this.made.add(t);
    if (tracked) this.alive.add(t);
    else this.saved.add(t);
  }
  disposed(t: Tensor): void {
    if (this.alive.delete(t) || this.saved.delete(t)) return;
    this.see(t);
    const s = this.sourceOf.get(t);
    if (s) this.disposes.push(s);
  }
  grad(owner: Tensor, current: Tensor | null): void {
    // a tensor the function made holds its own gradient: whatever it leaves behind is checked at the end
    if (this.made.has(owner) || this.slots.has(owner)) return;
    this.see(owner);
    const os = this.sourceOf.get(owner)!;
    this.slots.set(owner, { owner: os, initial: current && metaOf(current), initialTensor: current });
    // the gradient found here is found the same way at every call: as the owner's .grad, not by identity
    if (current && !this.made.has(current) && !this.sourceOf.has(current)) this.outside(current, { gradOf: os });
  }
  read(what: string): void {
    this.fail(`it reads tensor values in the middle (${what}), so what it computes next may depend on them: read results after the compiled call returns`);
  }
  backward(): void {
    this.backwards++;
  }
  guard(read: () => unknown, what: string, key: object | undefined): void {
    if (key) {
      if (this.guarded.has(key)) return;
      this.guarded.add(key);
    }
    this.guards.push({ read, value: read(), what });
  }

  // ---- buffers ------------------------------------------------------------------------------
  private newBuf(s: Storage, born: { zero: boolean } | undefined): Buf {
    const b: Buf = { id: this.bufs.length, backend: s.backend, dtype: s.dtype, length: s.length, born, sources: [], version0: s.version, versionDelta: 0 };
    this.bufs.push(b);
    this.storages.push(s);
    this.byStorage.set(s, b);
    return b;
  }
  private outside(t: Tensor, source: Source): void {
    this.sourceOf.set(t, source);
    if (t.gradFn === null) this.leaves.add(t);
    if (t.gradFn && t.requiresGrad && this.gradEnabled()) {
      this.fail(`it uses a tensor (${describe(t)}) with an autograd history made outside it: a backward inside would reach outside the trace; detach() it, or compute it inside`);
    }
    const b = this.byStorage.get(t.storage) ?? this.newBuf(t.storage, undefined);
    b.sources.push({ source, meta: metaOf(t) });
  }
  private bufOf(t: Tensor): number {
    this.see(t);
    const b = this.byStorage.get(t.storage);
    if (b) return b.id;
    this.fail(`internal: a tensor (${describe(t)}) over storage the trace cannot trace back to an argument or a captured tensor`);
    return -1;
  }

  // ---- the end ------------------------------------------------------------------------------
  /** Called once the function returned and its scope closed, with the trace's hooks off. */
  finish(result: unknown): Trace | TraceFailure {
    if (this.failure) return this.failure;
    const made: Made[] = [];
    const madeIndex = new Map<Tensor, number>();
    const kept = new Set<Tensor>();
    const slots = [...this.slots].map(([owner, s]) => {
      const g = owner.grad; // the hooks are off by now
      if (g && this.made.has(g)) kept.add(g);
      return { ...s, g };
    });
    const ref = (t: Tensor): ResultRef | undefined => {
      if (!this.made.has(t)) {
        this.see(t);
        return new ResultRef({ source: this.sourceOf.get(t)! });
      }
      let i = madeIndex.get(t);
      if (i === undefined) {
        const b = this.byStorage.get(t.storage);
        if (!b) return this.fail(`internal: a result (${describe(t)}) over storage the trace did not see`), undefined;
        if (t.requiresGrad && this.backwards === 0) {
          this.fail(`it returns a tensor (${describe(t)}) that requires grad, and runs no backward: a replay returns values, not an autograd graph. Compile the whole training step (forward, loss, backward, optimizer step), or run it under noGrad()`);
        }
        madeIndex.set(t, (i = made.length));
        made.push({ buf: b.id, dtype: t.dtype, shape: t.shape, strides: t.strides, offset: t.offset, kept: kept.has(t) });
      }
      return new ResultRef({ made: i });
    };
    let mapped: unknown;
    try {
      mapped = mapResult(result, ref);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      this.fail(`it returns ${e.message}: a replay rebuilds tensors, arrays and plain objects of them (and null or undefined) only; return other values from outside the compiled function`);
    }
    const finalSlots = slots.map(({ owner, initial, initialTensor, g }) => ({ owner, initial, final: g === initialTensor ? undefined : g && ref(g)?.ref }));
    for (const t of this.leaves) {
      if (t.gradFn !== null) this.fail(`it records an in-place op on a tensor from outside it (${describe(t)}): its autograd history would outlive the call, and a replay makes none`);
    }
    const left = [...this.alive].filter((t) => !madeIndex.has(t) && !kept.has(t));
    if (left.length && !this.failure) {
      const shapes = left.slice(0, 3).map(describe).join(', ') + (left.length > 3 ? `, and ${left.length - 3} more` : '');
      this.fail(
        `it keeps ${left.length} tensor(s) it made alive past its end (${shapes}) that are neither returned nor a .grad: state made on a first call ` +
          '(an optimizer\'s buffers; the next call traces again), or tensors kept with keep()',
        true,
      );
    }
    if (this.failure) return this.failure;
    this.bufs.forEach((b, i) => {
      if (!b.born) b.versionDelta = this.storages[i]!.version - b.version0;
    });
    return { bufs: this.bufs, steps: this.steps, slots: finalSlots, guards: this.guards, disposes: this.disposes, made, result: mapped, counts: this.counts };
  }
}
