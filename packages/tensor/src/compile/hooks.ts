import type { Backend, TensorView } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import type { Storage, Tensor } from '../tensor.js';

/**
 * What the tensor core tells a running trace (compile/trace.ts). Every call site checks `trace`
 * first, so eager code pays one test of a variable per hook.
 */
export interface TraceHooks {
  /** Storage allocated (zero-filled, or as it comes when `zero` is false). */
  alloc(s: Storage, zero: boolean): void;
  /** Host data written into storage: an array (a constant of the trace) or a producer (random numbers), called again at each replay. */
  write(s: Storage, data: TypedArray | (() => TypedArray)): void;
  /** A kernel ran; `mutates` are the inputs it wrote in place (by index). */
  kernel(op: string, backend: Backend, kernel: unknown, inputs: readonly Tensor[], inViews: readonly TensorView[], outputs: readonly Tensor[], outViews: readonly TensorView[], attrs: unknown, live: (() => unknown) | undefined, mutates: readonly number[] | undefined): void;
  /** checkDeviceErrors ran on these tensors (an optimizer step on a backend that checks its kernels' input later). */
  check(tensors: readonly Tensor[]): void;
  /** A tensor the program touches without a kernel (a view's input, detach, backward's gradient). */
  see(t: Tensor): void;
  /** A view op made tensors (no kernel). */
  view(): void;
  /** A tensor was made; untracked ones (no scope holds them) are autograd's saved tensors and leaf gradients. */
  created(t: Tensor, tracked: boolean): void;
  disposed(t: Tensor): void;
  /** `owner.grad` is read, or about to be set: `current` is its value now. */
  grad(owner: Tensor, current: Tensor | null): void;
  /** A value was read back (what: 'dataSync', 'data', 'to'). */
  read(what: string): void;
  backward(): void;
  guard(read: () => unknown, what: string, key: object | undefined): void;
  fail(reason: string): void;
}

/** The running trace, if any. */
export let trace: TraceHooks | undefined;
/** @internal */
export function setTrace(t: TraceHooks | undefined): void {
  trace = t;
}

/**
 * While `compile` traces a function, record that the trace holds only while `read()` returns
 * what it returns now (compared element by element for arrays, with `Object.is`): a later call
 * where it differs traces again. For JavaScript state that decides which kernels run or what
 * constants they get (a module's training flag, an optimizer's hyperparameters): the tensor core
 * sees tensors, not your objects. Outside a trace it does nothing.
 * @param read - Reads the value; called now and before each later call of the compiled function.
 * @param what - Names the value for `explain()` ("Dropout.training").
 * @param key - A trace keeps one guard per key (a module guards its fields once, however often it is listed).
 */
export function guardValue(read: () => unknown, what: string, key?: object): void {
  trace?.guard(read, what, key);
}

/**
 * While `compile` traces a function, mark the trace as one that cannot be replayed, with the
 * reason the compiled function reports (`lastFallback`, `explain()`): it then runs eagerly. For
 * library code whose JavaScript effects a replay would skip (a learning-rate scheduler's step, a
 * data loader's next batch). Outside a trace it does nothing.
 */
export function notTraceable(reason: string): void {
  trace?.fail(reason);
}
