import { TapegradError } from '../errors.js';
import { tidy } from '../memory.js';
import { fmt, shapesEqual } from '../shape.js';
import { autogradHooks, Storage, Tensor } from '../tensor.js';
import { warn } from '../warnings.js';
import { bytesPerElement } from '../dtype.js';
import { setTrace, trace as activeTrace } from './hooks.js';
import { fuse } from './fuse.js';
import { combine } from './combine.js';
import { plan, type Plan } from './plan.js';
import { genericReplayer, type Replayer } from './replay.js';
import { mapResult, metaOf, rebuild, Tracer, type Buf, type Meta, type Source, type Trace } from './trace.js';

/** Options of {@link compile}. */
export interface CompileOptions {
  /**
   * How many graphs (one per outcome of the guards: input shapes, grad mode, ...) to keep; past
   * it the function runs eagerly, as torch.compile's `cache_size_limit` (default 8).
   */
  cacheLimit?: number;
  /** Warn once (through `warn`) when the function falls back to eager for good (default true). */
  warn?: boolean;
  /**
   * Merge chains of elementwise kernels (and an elementwise epilogue into the matmul or
   * convolution before it) into one kernel each, and kernels that share operands (a loss and its
   * backward, a weight gradient and its bias's sum) into one kernel with several outputs, where
   * the backend can (default true). See docs/compiler.md, "What it fuses".
   */
  fuse?: boolean;
}

/** One traced graph of a compiled function: what a replay runs and what it holds. */
export interface GraphStats {
  /** Kernel calls per replay: the kernels the eager call that traced it ran, in the same order, less those fused. */
  kernels: number;
  /** The fused kernels among them, each named by the ops it computes ('fused(add,relu)'). */
  fused: string[];
  /** Kernel calls the eager call that traced it made. */
  eagerKernels: number;
  /** Host writes per replay (random numbers drawn again; constants are written once). */
  hostWrites: number;
  /** What the eager call did that a replay does not: ops dispatched (kernels, views, host writes)... */
  eagerDispatches: number;
  /** ...and Tensor objects made. */
  eagerTensors: number;
  /** Bytes of the blocks planned for intermediates, held between calls. */
  plannedBytes: number;
  /** The most bytes of intermediates alive at once (what the blocks hold at the busiest kernel). */
  peakBytes: number;
  /** Bytes of constants written once. */
  constantBytes: number;
  /** Bytes made per call for what the function leaves behind (results, gradients). */
  perCallBytes: number;
  /** Guards checked before each replay: outside tensors, `.grad` slots and JavaScript values. */
  guards: number;
  /** Times this graph was replayed. */
  replays: number;
}
/** What {@link Compiled.stats} returns. */
export interface CompiledStats {
  calls: number;
  replays: number;
  traces: number;
  /** Calls that ran the function eagerly without tracing it (fallback). */
  eagerCalls: number;
  graphs: GraphStats[];
  /** Why the last call ran eagerly; undefined if it replayed or traced a replayable graph. */
  lastFallback: string | undefined;
  /** Why the last trace was needed: the guard of the previous graph that failed. */
  lastRetrace: string | undefined;
  /** Why the function now runs eagerly for good (until reset()); undefined while it compiles. */
  disabled: string | undefined;
}
/** A compiled function: call it as the function; it traces, replays or falls back to eager. */
export interface Compiled<A extends unknown[], R> {
  (...args: A): R;
  /** Counters, and per graph its kernels and memory. */
  stats(): CompiledStats;
  /** The state in words: graphs, guards, and why it last fell back or traced again. */
  explain(): string;
  /** Why the last call ran eagerly (undefined if it replayed or traced). */
  readonly lastFallback: string | undefined;
  /** Drop every graph and the memory planned for them, and compile afresh from the next call. */
  reset(): void;
}

interface ArgKey {
  readonly metas: readonly Meta[];
  readonly alias: readonly number[];
  readonly values: readonly unknown[];
}
interface Entry {
  readonly trace: Trace;
  readonly plan: Plan;
  readonly replayer: Replayer;
  readonly key: ArgKey;
  readonly gradMode: boolean;
  readonly externals: readonly Buf[];
  replays: number;
}

const TENSOR = Symbol('tensor'), ARRAY = Symbol('array'), OBJECT = Symbol('object');
/** The tensors among the arguments (arrays and plain objects are walked), and everything else by value or identity. */
function argKey(args: readonly unknown[]): { key: ArgKey; tensors: Tensor[] } {
  const tensors: Tensor[] = [];
  const values: unknown[] = [];
  const walk = (v: unknown): void => {
    if ((v as { __isTensor?: boolean } | null)?.__isTensor) {
      tensors.push(v as Tensor);
      values.push(TENSOR);
    } else if (Array.isArray(v)) {
      values.push(ARRAY, v.length);
      v.forEach(walk);
    } else if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
      const keys = Object.keys(v);
      values.push(OBJECT, keys.length);
      for (const k of keys) {
        values.push(k);
        walk((v as Record<string, unknown>)[k]);
      }
    } else values.push(v); // numbers, strings, booleans by value; modules, optimizers, functions by identity
  };
  args.forEach(walk);
  const alias = tensors.map((t) => tensors.findIndex((u) => u.storage === t.storage));
  return { key: { metas: tensors.map(metaOf), alias, values }, tensors };
}

function metaDiff(t: Tensor | null | undefined, m: Meta): string | undefined {
  if (!t) return 'is null now';
  if (t.isDisposed) return 'was disposed';
  if (t.device !== m.device) return `is on '${t.device}' now, was on '${m.device}'`;
  if (t.dtype !== m.dtype) return `is ${t.dtype} now, was ${m.dtype}`;
  if (!shapesEqual(t.shape, m.shape)) return `has shape ${fmt(t.shape)} now, had ${fmt(m.shape)}`;
  if (!shapesEqual(t.strides, m.strides) || t.offset !== m.offset) return `has another layout now (strides ${fmt(t.strides)}, offset ${t.offset}; was ${fmt(m.strides)}, ${m.offset})`;
  if (t.requiresGrad !== m.requiresGrad) return `requiresGrad is ${t.requiresGrad} now`;
  if ((t.gradFn === null) !== m.leaf) return m.leaf ? 'has an autograd history now' : 'has no autograd history now';
  return undefined;
}
const same = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((v, i) => same(v, b[i])) : Object.is(a, b);

function resolve(s: Source, args: readonly Tensor[]): Tensor | null | undefined {
  if ('arg' in s) return args[s.arg];
  if ('tensor' in s) return s.tensor;
  return resolve(s.gradOf, args)?.grad;
}
function describeSource(s: Source): string {
  if ('arg' in s) return `tensor argument ${s.arg}`;
  if ('tensor' in s) return `a captured tensor (${s.tensor.dtype} ${fmt(s.tensor.shape)})`;
  return `the .grad of ${describeSource(s.gradOf)}`;
}

/** Run fn as tidy does, refusing an async function in compile's words. */
function scoped<A extends unknown[], R>(fn: (...args: A) => R, args: A): R {
  return tidy(() => {
    const r = fn(...args);
    if (typeof (r as { then?: unknown } | null)?.then === 'function') {
      (r as PromiseLike<unknown>).then(undefined, () => {}); // its rejection is this error's consequence, not news
      throw new TapegradError('compile: the function returned a Promise; compile traces synchronous functions (read values after the compiled call returns)');
    }
    return r;
  });
}

class CompiledFunction<A extends unknown[], R> {
  private entries: Entry[] = [];
  private counts = { calls: 0, replays: 0, traces: 0, eagerCalls: 0 };
  private failures = 0;
  private disabled: string | undefined;
  lastFallback: string | undefined;
  private lastRetrace: string | undefined;
  private readonly cacheLimit: number;

  constructor(
    private readonly fn: (...args: A) => R,
    private readonly options: CompileOptions,
  ) {
    this.cacheLimit = options.cacheLimit ?? 8;
  }

  call(args: A): R {
    // inside another compiled function's trace: run inline, so that trace records these kernels
    if (activeTrace) return scoped(this.fn, args);
    this.counts.calls++;
    if (this.disabled) return this.eager(args, this.disabled);
    const { key, tensors } = argKey(args);
    const gradMode = autogradHooks()?.isGradEnabled() ?? false;
    let miss: string | undefined;
    for (const e of this.entries) {
      const found = this.check(e, key, gradMode, tensors);
      if (typeof found !== 'string') return this.replay(e, found, tensors);
      miss ??= found;
    }
    if (miss) this.lastRetrace = miss;
    if (this.entries.length >= this.cacheLimit) {
      this.disable(`it was traced ${this.entries.length} times, the cache limit (cacheLimit), and a guard failed again: ${miss}`);
      return this.eager(args, this.disabled!);
    }
    return this.trace(args, key, gradMode, tensors);
  }

  private eager(args: A, reason: string): R {
    this.counts.eagerCalls++;
    this.lastFallback = reason;
    return scoped(this.fn, args);
  }
  private disable(reason: string): void {
    this.drop(); // graphs never replayed again need no memory
    this.disabled = reason;
    if (this.options.warn ?? true) warn(`compile: ${this.fn.name || 'a function'} runs eagerly from now on: ${reason}`);
  }

  private trace(args: A, key: ArgKey, gradMode: boolean, tensors: Tensor[]): R {
    this.counts.traces++;
    const tracer = new Tracer(tensors, () => autogradHooks()?.isGradEnabled() ?? false);
    let result: R;
    setTrace(tracer);
    try {
      result = scoped(this.fn, args);
    } finally {
      setTrace(undefined);
    }
    const finished = tracer.finish(result);
    const t = 'reason' in finished || this.options.fuse === false ? finished : combine(fuse(finished));
    if ('reason' in t) {
      this.lastFallback = t.reason;
      if (!t.retry || ++this.failures >= 3) {
        this.disable(t.reason);
        return result; // eager for good: eager's results
      }
    } else {
      this.failures = 0;
      this.lastFallback = undefined;
      const backends = new Set(t.steps.map((s) => ('backend' in s ? s.backend : t.bufs[s.buf]!.backend)));
      const only = backends.size === 1 && [...backends][0]!.replayer ? [...backends][0]! : undefined;
      const p = plan(t, only);
      const replayer = only ? only.replayer!(p.program) : genericReplayer(p.program);
      this.entries.push({ trace: t, plan: p, replayer, key, gradMode, externals: t.bufs.filter((b) => !b.born), replays: 0 });
    }
    // a replay returns values, not autograd graphs: so does every call that traced
    const detached = new Map<Tensor, Tensor>();
    return mapResult(result, (r) => {
      if (!r.requiresGrad || r.isLeaf || !tracer.made.has(r)) return r;
      let d = detached.get(r);
      if (!d) {
        detached.set(r, (d = r.detach()));
        r.dispose();
      }
      return d;
    }) as R;
  }

  /** The outside storage a replay of `e` uses now, in `e.externals` order, or why `e` does not fit this call. */
  private check(e: Entry, key: ArgKey, gradMode: boolean, tensors: readonly Tensor[]): Storage[] | string {
    if (e.gradMode !== gradMode) return `grad mode is ${gradMode ? 'on' : 'off'} now`;
    if (key.metas.length !== e.key.metas.length) return `it gets ${key.metas.length} tensor arguments now, ${e.key.metas.length} before`;
    for (let i = 0; i < key.metas.length; i++) {
      const why = metaDiff(tensors[i], e.key.metas[i]!);
      if (why) return `tensor argument ${i} ${why}`;
    }
    if (!same(key.alias, e.key.alias)) return 'its tensor arguments share storage differently';
    if (!same(key.values, e.key.values)) return 'a non-tensor argument changed (numbers, strings and booleans are compared by value, other objects by identity)';
    const storages: Storage[] = [];
    for (const b of e.externals) {
      let storage: Storage | undefined;
      for (const { source, meta } of b.sources) {
        const t = resolve(source, tensors);
        const why = metaDiff(t, meta);
        if (why) return `${describeSource(source)} ${why}`;
        if (storage && t!.storage !== storage) return `${describeSource(source)} no longer shares storage with ${describeSource(b.sources[0]!.source)}`;
        storage = t!.storage;
      }
      storages.push(storage!);
    }
    if (new Set(storages).size !== storages.length) return 'two tensors it reads from outside share storage now';
    for (const { owner, initial } of e.trace.slots) {
      const g = resolve(owner, tensors)?.grad ?? null;
      if (!initial) {
        if (g) return `the .grad of ${describeSource(owner)} is set now; it was null`;
      } else {
        const why = metaDiff(g, initial);
        if (why) return `the .grad of ${describeSource(owner)} ${why}`;
      }
    }
    for (const g of e.trace.guards) {
      let now: unknown;
      try {
        now = g.read();
      } catch (err) {
        return `${g.what}: reading it threw (${(err as Error).message})`;
      }
      if (!same(now, g.value)) return `${g.what} changed`;
    }
    return storages;
  }

  private replay(e: Entry, storages: Storage[], args: readonly Tensor[]): R {
    this.counts.replays++;
    e.replays++;
    this.lastFallback = undefined;
    const { trace: t, plan: p } = e;
    const handles = p.fixed.slice();
    const outside = new Map<number, Storage>();
    e.externals.forEach((b, i) => {
      handles[p.slotOf[b.id]!] = storages[i]!.handle;
      outside.set(b.id, storages[i]!);
    });
    // found before anything changes: the effects below change what the sources lead to
    const disposes = t.disposes.map((s) => resolve(s, args));
    const owners = t.slots.map((s) => resolve(s.owner, args)!);
    const finals = t.slots.map((s) => (s.final && 'source' in s.final ? resolve(s.final.source, args) : undefined));
    const made: (Storage | undefined)[] = [];
    try {
      e.replayer({
        handles,
        alloc: (slot) => {
          const a = p.perCall[slot]!;
          const s = (made[slot] = Storage.alloc(a.backend.name, a.dtype, a.length, a.zero));
          handles[slot] = s.handle;
        },
        free: (slot) => {
          made[slot]!.release();
          made[slot] = undefined;
        },
      });
    } catch (err) {
      for (const s of made) s?.release();
      throw err;
    }
    e.externals.forEach((b, i) => (storages[i]!.version += b.versionDelta));
    // the tensors the function leaves behind, over this call's storage (the first takes the allocation's reference)
    const taken = new Set<Storage>();
    const tensors = t.made.map((m) => {
      let s = made[p.slotOf[m.buf]!];
      if (s && !taken.has(s)) taken.add(s);
      else s = (s ?? outside.get(m.buf)!).retain();
      return new Tensor(s, m.shape, m.strides, m.offset, m.dtype, !m.kept);
    });
    for (const d of disposes) d?.dispose();
    t.slots.forEach((s, i) => {
      if (s.final === undefined) return;
      owners[i]!.grad = s.final === null ? null : 'made' in s.final ? tensors[s.final.made]! : (finals[i] ?? null);
    });
    return rebuild(t.result, (r) => ('made' in r ? tensors[r.made]! : resolve(r.source, args)!)) as R;
  }

  stats(): CompiledStats {
    const bytes = (pc: Plan['perCall'][number]) => (pc ? pc.length * bytesPerElement(pc.dtype) : 0);
    const graphs = this.entries.map(({ trace: t, plan: p, replays }) => {
      const kept = new Set(t.made.map((m) => p.slotOf[m.buf]!));
      return {
        kernels: t.steps.filter((s) => s.kind === 'kernel').length,
        fused: [...(t.fused ?? [])],
        eagerKernels: t.counts.kernels,
        hostWrites: p.program.steps.filter((s) => s.kind === 'write').length,
        eagerDispatches: t.counts.kernels + t.counts.views + t.counts.writes,
        eagerTensors: t.counts.tensors,
        plannedBytes: p.plannedBytes,
        peakBytes: p.peakBytes,
        constantBytes: p.constantBytes,
        perCallBytes: p.perCall.reduce((n, pc, slot) => n + (kept.has(slot) ? bytes(pc) : 0), 0),
        guards: t.bufs.reduce((n, b) => n + b.sources.length, 0) + t.slots.length + t.guards.length,
        replays,
      };
    });
    return { ...this.counts, graphs, lastFallback: this.lastFallback, lastRetrace: this.lastRetrace, disabled: this.disabled };
  }

  explain(): string {
    const s = this.stats();
    const lines = [`${s.calls} calls: ${s.replays} replayed, ${s.traces} traced, ${s.eagerCalls} eager`];
    if (s.disabled) lines.push(`runs eagerly for good (until reset()): ${s.disabled}`);
    s.graphs.forEach((g, i) =>
      lines.push(
        `graph ${i}: ${g.kernels} kernels and ${g.hostWrites} host writes per replay (the eager call dispatched ${g.eagerDispatches} ops, ${g.eagerKernels} of them kernels, and made ${g.eagerTensors} tensors); ` +
          (g.fused.length ? `${g.fused.length} fused: ${g.fused.join(', ')}; ` : '') +
          `${g.plannedBytes} bytes planned for intermediates (peak ${g.peakBytes}), ${g.constantBytes} of constants, ${g.perCallBytes} made per call; ${g.guards} guards; replayed ${g.replays} times`,
      ),
    );
    if (s.lastRetrace) lines.push(`last traced again because ${s.lastRetrace}`);
    if (s.lastFallback) lines.push(`last call ran eagerly because ${s.lastFallback}`);
    return lines.join('\n');
  }

  reset(): void {
    this.drop();
    this.failures = 0;
    this.disabled = undefined;
  }
  private drop(): void {
    for (const e of this.entries) for (const s of e.plan.owned) s.release();
    this.entries = [];
  }
}

// planned blocks of a compiled function dropped without reset() go back to their backend
const dropped = new FinalizationRegistry<CompiledFunction<never, unknown>>((c) => c.reset());

/**
 * Compile a function of tensors (a forward, or a whole training step: forward, loss, backward,
 * optimizer step), as `torch.compile` and `jax.jit` do. The first call for given argument shapes,
 * dtypes and devices runs it eagerly while recording every kernel into a graph; later calls
 * replay that graph: the same kernels in the same order over memory planned once, with no
 * dispatch, tape or Tensor objects for intermediates, so the results, parameter updates and
 * `.grad` values it leaves are the ones eager would give, bit for bit on the CPU.
 *
 * Guards decide when to trace again (and keep several graphs): the arguments' shapes, dtypes,
 * devices, layouts and requiresGrad, numbers among the arguments by value and other objects by
 * identity; grad mode; every tensor it reads from outside (alive, same shape, device, requiresGrad)
 * and the `.grad` slots it touches; and JavaScript values that library code guards (a module's
 * fields and training flag, an optimizer's hyperparameters; `guardValue`). A function that
 * cannot be replayed runs eagerly, and says why (`lastFallback`, `explain()`): one that reads
 * values in the middle (`dataSync`, `item`), keeps tensors it made (optimizer state made on a
 * first call: the next call traces again), returns a tensor that requires grad without running
 * backward, or calls a scheduler's `step()`. Like `tidy`, it disposes the tensors it made except
 * those it returns or leaves as a `.grad`; results are plain tensors (no autograd history).
 *
 * JavaScript values it reads are part of the trace, as in `jax.jit`: tensors made from them
 * inside (`tensor([...])`, a number operand) are constants; pass what changes as arguments.
 * Random numbers are drawn again at each replay, from the same generator. See docs/compiler.md.
 * @param fn - A synchronous function of tensors (and other values); it may close over a model and an optimizer.
 * @param options - Cache limit and warnings.
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, options: CompileOptions = {}): Compiled<A, R> {
  const c = new CompiledFunction(fn, options);
  const compiled = ((...args: A) => c.call(args)) as Compiled<A, R>;
  compiled.stats = () => c.stats();
  compiled.explain = () => c.explain();
  compiled.reset = () => c.reset();
  Object.defineProperty(compiled, 'lastFallback', { get: () => c.lastFallback });
  dropped.register(compiled, c as unknown as CompiledFunction<never, unknown>);
  return compiled;
}
