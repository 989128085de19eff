import { flowStore } from './flow.js';
import type { Device } from './backend.js';
import type { Tensor } from './tensor.js';
import { TapegradError } from './errors.js';

interface Counts {
  tensors: number;
  bytes: number;
}
const live = new Map<Device, Counts>();
// issue 16: the high-water mark of live bytes, over every device (torch.cuda.max_memory_allocated)
let liveBytes = 0;
let peakBytes = 0;
function counts(device: Device): Counts {
  let c = live.get(device);
  if (!c) live.set(device, (c = { tensors: 0, bytes: 0 }));
  return c;
}
/** @internal bookkeeping called by Tensor and Storage */
export function countTensor(device: Device, delta: number): void {
  counts(device).tensors += delta;
}
/** @internal */
export function countBytes(device: Device, delta: number): void {
  counts(device).bytes += delta;
  liveBytes += delta;
  if (liveBytes > peakBytes) peakBytes = liveBytes;
}
/** Start measuring {@link MemoryInfo.peakBytes} again from the bytes live now. */
export function resetPeakMemory(): void {
  peakBytes = liveBytes;
}

/** What memory() reports. */
export interface MemoryInfo {
  /** Live tensors on every device (views count once each). */
  tensors: number;
  /** Bytes of live storage on every device (shared storage counts once). */
  bytes: number;
  devices: Record<string, Counts & { pooledBytes?: number }>;
  /**
   * The most bytes of live storage there have been, on every device together, since tapegrad
   * loaded or {@link resetPeakMemory} (torch.cuda.max_memory_allocated): what a computation needed
   * at its worst, intermediates freed before it returned included.
   */
  peakBytes: number;
}
let poolReporters: Array<() => [Device, number]> = [];
/** @internal a backend with a buffer pool reports its reserve here */
export function addPoolReporter(f: () => [Device, number]): void {
  poolReporters.push(f);
}

/** Live tensors and bytes, in total and per device. */
export function memory(): MemoryInfo {
  const devices: MemoryInfo['devices'] = {};
  let tensors = 0;
  let bytes = 0;
  for (const [d, c] of live) {
    devices[d] = { ...c };
    tensors += c.tensors;
    bytes += c.bytes;
  }
  for (const f of poolReporters) {
    const [d, pooled] = f();
    devices[d] = { ...(devices[d] ?? { tensors: 0, bytes: 0 }), pooledBytes: pooled };
  }
  return { tensors, bytes, devices, peakBytes };
}

// Scopes. Each async flow has its own chain of open scopes, held in an AsyncLocalStorage where
// the runtime has one (Node 20.16 and later): the store is the flow's innermost scope, each scope links
// to the one innermost when it opened, and awaits carry the store to their continuations, so two
// loops that each hold a scope across an await no longer share one stack. `using s = scope()`
// must enter its scope with enterWith (no callback to run it in), and an async function runs in
// its caller's context until its first await: the caller's code after the call sees that scope
// until it closes (docs/tensors-devices-memory.md says so; `withScope` runs its function in a
// context of its own, so it has no such leak). Without AsyncLocalStorage (browsers) the program is
// one flow. A closed scope stays in the chains that still reach it and is skipped; closing out
// of order therefore cannot leave a stale scope behind.
const flows = flowStore<OpenScope>();
const enter = (s: OpenScope | undefined) => flows.enter(s);

/** The innermost open scope of the running flow. */
function innermost(): OpenScope | undefined {
  let s = flows.get();
  while (s && !s.open) s = s.parent;
  return s;
}

/** @internal hand a new tensor to the innermost scope; false when no scope is open */
export function track(t: Tensor): boolean {
  const s = innermost();
  s?.tracked.add(t);
  return s !== undefined;
}
/** Exempt a tensor from disposal by the open scopes of the running async flow (it stays alive until disposed by hand). */
export function keep<T extends Tensor>(t: T): T {
  for (let s = innermost(); s; s = s.parent) s.tracked.delete(t);
  t.guard();
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as { __isTensor?: boolean }).__isTensor) out.add(value as Tensor);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

/** A scope object: `using s = scope()` disposes, at the end of the block, what it tracked. */
export interface Scope extends Disposable {
  /** Keep a tensor (or the tensors in an array/object) alive past the scope. */
  keep<T>(value: T): T;
  /** Whether the scope will dispose `t` when it closes: created while it was innermost, or handed up by a closed inner scope, and not kept. */
  tracks(t: Tensor): boolean;
}

// A class rather than an object of closures: a training step opens several scopes (tidy, backward, each batch).
class OpenScope implements Scope {
  /** @internal */
  readonly tracked = new Set<Tensor>();
  private readonly kept = new Set<Tensor>();
  /** @internal */
  open = true;
  /** @internal the scope that was innermost in this flow when this one opened */
  readonly parent = innermost();
  keep<T>(value: T): T {
    collect(value, this.kept);
    return value;
  }
  tracks(t: Tensor): boolean {
    return this.open && this.tracked.has(t) && !this.kept.has(t);
  }
  [Symbol.dispose](): void {
    if (!this.open) return;
    const inOrder = innermost() === this;
    this.open = false;
    let parent = this.parent;
    while (parent && !parent.open) parent = parent.parent;
    for (const t of this.tracked) {
      if (!this.kept.has(t)) t.dispose();
      else if (parent) parent.tracked.add(t);
      else t.guard();
    }
    this.tracked.clear();
    this.kept.clear();
    // closed all the same: the inner scope still open stays innermost and skips this one when it closes
    if (!inOrder) {
      throw new TapegradError(
        'scope: a scope closed while a scope opened after it in the same flow is still open; it closed all the same. ' +
          'Close scopes in the reverse order they were opened; async tasks that run at the same time (Promise.all, ' +
          'a call not awaited at once) must each run in `withScope(async (s) => ...)`',
      );
    }
    enter(parent);
  }
}

/**
 * Open a scope: every tensor created until it closes is disposed then, unless kept. Close it with
 * `using` (works across `await`) or by calling `[Symbol.dispose]()`; closed while a scope opened
 * after it is still open, it closes all the same and then throws. For an async task that runs at
 * the same time as other tensor code, use {@link withScope}.
 */
export function scope(): Scope {
  const s = new OpenScope();
  enter(s);
  return s;
}

/**
 * Run `fn`, then dispose every tensor it created except those it returns (nested in arrays,
 * Maps or plain objects). `fn` must be synchronous: for async code use {@link withScope}.
 */
export function tidy<T>(fn: () => T): T {
  const s = scope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    try {
      s[Symbol.dispose]();
    } finally {
      throw e; // fn's own error explains an inner scope it left open
    }
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    // The body goes on after its first await, finds its tensors disposed and rejects: that is this
    // error's consequence, not news, and must not end the process as an unhandled rejection. The
    // tensors it makes from then on belong to the scope around the tidy, or to none (the finalizer).
    (result as PromiseLike<unknown>).then(undefined, () => {});
    s[Symbol.dispose]();
    throw new TapegradError('tidy: fn returned a Promise; tidy cannot span an await, use `await withScope(async () => ...)` instead');
  }
  s.keep(result);
  s[Symbol.dispose]();
  return result;
}

/**
 * Run `fn` (usually async) in a scope of its own, and dispose every tensor created in it, before
 * and after each await, once its promise settles, except those it resolves to (nested in arrays,
 * Maps or plain objects): the async form of {@link tidy}. Where the runtime has
 * AsyncLocalStorage (Node 20.16 and later), the scope belongs to `fn`'s async flow alone: tasks run
 * at the same time (`Promise.all`, a loop started without `await`) each keep their own tensors,
 * and code outside `fn` never has its tensors taken by this scope.
 */
export function withScope<T>(fn: () => T | PromiseLike<T>): Promise<T> {
  const s = new OpenScope();
  const body = async (): Promise<T> => {
    try {
      return s.keep(await fn());
    } finally {
      s[Symbol.dispose]();
    }
  };
  // run, not enterWith: the scope is the store of fn's context only, never its caller's
  return flows.run(s, body);
}
