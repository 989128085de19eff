import type { Device } from './backend.js';
import type { Tensor } from './tensor.js';
import { TapegradError } from './errors.js';

interface Counts {
  tensors: number;
  bytes: number;
}
const live = new Map<Device, Counts>();
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
}

/** What memory() reports. */
export interface MemoryInfo {
  /** Live tensors on every device (views count once each). */
  tensors: number;
  /** Bytes of live storage on every device (shared storage counts once). */
  bytes: number;
  devices: Record<string, Counts & { pooledBytes?: number }>;
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
  return { tensors, bytes, devices };
}

// Scopes: every tensor created while a scope is open is tracked by the innermost one and
// disposed when it closes, unless it was returned or kept.
const scopes: Set<Tensor>[] = [];

/** @internal hand a new tensor to the innermost scope; false when no scope is open */
export function track(t: Tensor): boolean {
  const s = scopes[scopes.length - 1];
  s?.add(t);
  return s !== undefined;
}
/** Exempt a tensor from disposal by the open scopes (it stays alive until disposed by hand). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
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
  private readonly tracked = new Set<Tensor>();
  private readonly kept = new Set<Tensor>();
  private open = true;
  constructor() {
    scopes.push(this.tracked);
  }
  keep<T>(value: T): T {
    collect(value, this.kept);
    return value;
  }
  tracks(t: Tensor): boolean {
    return this.open && this.tracked.has(t) && !this.kept.has(t);
  }
  [Symbol.dispose](): void {
    if (!this.open) return;
    this.open = false;
    const i = scopes.lastIndexOf(this.tracked);
    if (i !== scopes.length - 1) throw new TapegradError('scope: scopes must close in the reverse order they were opened');
    scopes.pop();
    const parent = scopes[scopes.length - 1];
    for (const t of this.tracked) {
      if (!this.kept.has(t)) t.dispose();
      else if (parent) parent.add(t);
      else t.guard();
    }
  }
}

/** Open a scope: every tensor created until it closes is disposed then, unless kept. Close it with `using` (works across `await`) or by calling `[Symbol.dispose]()`. */
export function scope(): Scope {
  return new OpenScope();
}

/**
 * Run `fn`, then dispose every tensor it created except those it returns (nested in arrays,
 * Maps or plain objects). `fn` must be synchronous: for async code use `using s = scope()`.
 */
export function tidy<T>(fn: () => T): T {
  const s = scope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    s[Symbol.dispose]();
    throw e;
  }
  if (result instanceof Promise) {
    s[Symbol.dispose]();
    throw new TapegradError('tidy: fn returned a Promise; tidy cannot span an await, use `using s = scope()` instead');
  }
  s.keep(result);
  s[Symbol.dispose]();
  return result;
}
