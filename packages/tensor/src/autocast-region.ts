import type { Device } from './backend.js';
import { flowStore } from './flow.js';
import type { DType } from './dtype.js';
import type { HalfDType } from './half.js';
import type { Tensor } from './tensor.js';

// Autocast's regions and the two entry points the core calls on every op (dispatch) and every
// composite (autocastOp). The policy, its casts and `autocast()` itself are in autocast.ts, which
// installs itself here when it opens a region: a program that never calls autocast() carries
// none of it (a page's bundle drops the table), and costs two counter tests per op.

/** @internal */
export type Cache = Map<Tensor, { version: number; cast: Tensor }>;
// One open region; each links to the region innermost when it opened, so a flow's regions form a chain.
/** @internal */
export interface Region {
  readonly device: Device;
  readonly dtype: HalfDType;
  readonly enabled: boolean;
  readonly cacheEnabled: boolean;
  /** Shared with the enclosing region of the same device and dtype: PyTorch clears its cast cache when the outermost region exits. */
  readonly cache: Cache;
  readonly ownsCache: boolean;
  readonly parent: Region | undefined;
  open: boolean;
}

// Each async flow has its own chain, in an AsyncLocalStorage where the runtime has one (Node 20.16
// and later), as memory.ts keeps scopes: `using _ = autocast(...)` enters its region with
// enterWith, and awaits carry it to their continuations. Without AsyncLocalStorage (browsers) the
// program is one flow: a region held across an await then also covers other tasks that run meanwhile.
const flows = flowStore<Region>();
// Regions open anywhere: while none is, dispatch skips the lookup (autocast costs nothing unused).
let openRegions = 0;
// Inside a composite that applied its policy, and during backward: its inner ops are not cast again.
let suspended = 0;

/** @internal */
export function innermost(): Region | undefined {
  let r = flows.get();
  while (r && !r.open) r = r.parent;
  return r;
}
/** @internal */
export function enter(r: Region | undefined): void {
  flows.enter(r);
}

/** @internal `fn` with `region` innermost: the store of fn's context only (run, not enterWith), never its caller's. */
export function runIn<R>(region: Region, fn: () => R): R {
  return flows.run(region, fn);
}

/** The innermost open region for `device` in the running flow, when it is enabled. */

/** @internal */
export function regionFor(device: Device): Region | undefined {
  if (openRegions === 0 || suspended > 0) return undefined;
  for (let r = innermost(); r; r = r.parent) if (r.open && r.device === device) return r.enabled ? r : undefined;
  return undefined;
}

/** @internal What autocast.ts does under an open region: dispatch's step and a composite's entry. */
export interface AutocastPolicyHooks {
  dispatch(region: Region, name: string, inputs: readonly Tensor[], attrs: unknown, dispatch: (name: string, inputs: readonly Tensor[], attrs: unknown) => Tensor[]): Tensor[] | undefined;
  op<const T extends readonly (Tensor | null | undefined)[], R>(region: Region | undefined, name: string, inputs: T, fn: (inputs: T, dtype?: DType) => R): R;
}
let policy: AutocastPolicyHooks | undefined;

/** @internal autocast.ts's: count a region open (installing the policy) or closed. */
export function countRegion(delta: 1 | -1, hooks: AutocastPolicyHooks): void {
  policy = hooks;
  openRegions += delta;
}

/** Whether autocast is on for `device` in the running flow (torch.is_autocast_enabled). */
export function isAutocastEnabled(device: Device): boolean {
  return regionFor(device) !== undefined;
}

/** Run `fn` with autocast suspended: backward does, and so do composites after casting at entry. */
export function withoutAutocast<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}

/**
 * Whether a composite op must go through {@link autocastOp} now: a region is open somewhere and
 * autocast is not suspended (two counters; false whenever autocast is unused). The pattern, at the
 * top of a composite: `if (autocastActive()) return autocastOp('linear', [x, w, b], ([x, w, b]) => linear(x, w, b));`
 */
export function autocastActive(): boolean {
  return openRegions > 0 && suspended === 0;
}

/**
 * @internal dispatch's step: under an enabled region for the inputs' device, the op's inputs
 * cast by its policy, run by `dispatch` with autocast suspended; undefined where autocast leaves
 * the op alone (always, while no region is open).
 */
export function autocastDispatch(
  name: string,
  inputs: readonly Tensor[],
  attrs: unknown,
  dispatch: (name: string, inputs: readonly Tensor[], attrs: unknown) => Tensor[],
): Tensor[] | undefined {
  if (openRegions === 0 || inputs.length === 0) return undefined;
  const region = regionFor(inputs[0]!.device);
  return region && policy!.dispatch(region, name, inputs, attrs, dispatch);
}

/**
 * For a composite op (a function of several ops, as linear with a bias, the losses): under an
 * enabled region for the inputs' device, `inputs` cast by the policy of `name` in
 * {@link AUTOCAST_POLICY}; then `fn` runs on them with autocast suspended, so that its inner ops
 * are not cast again (linear's bias add happens in half, mean of half stays half), as PyTorch's
 * autocast wrappers run their op, and so that `fn` may call the composite itself again (see
 * {@link autocastActive}). `fn`'s second argument is the output dtype a 'float32-read' op is to
 * produce (undefined otherwise).
 */
export function autocastOp<const T extends readonly (Tensor | null | undefined)[], R>(name: string, inputs: T, fn: (inputs: T, dtype?: DType) => R): R {
  if (!autocastActive()) return fn(inputs);
  const first = inputs.find((t) => t != null);
  return policy!.op(first && regionFor(first.device), name, inputs, fn);
}
