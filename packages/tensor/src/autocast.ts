import { getBackend, listBackends, type Device } from './backend.js';
import { isFloating, isHalf, promoteTypes, type DType } from './dtype.js';
import { DTypeError, TapegradError, ValueError } from './errors.js';
import type { HalfDType } from './half.js';
import { keep } from './memory.js';
import { autogradHooks, type Tensor } from './tensor.js';
import { run } from './dispatch.js';
import { countRegion, enter, innermost, runIn, withoutAutocast, type AutocastPolicyHooks, type Region } from './autocast-region.js';

export { autocastActive, autocastOp, isAutocastEnabled, withoutAutocast } from './autocast-region.js';

// ---- the policy: one table ------------------------------------------------------------------
//
// PyTorch's CUDA autocast lists (aten/src/ATen/autocast_mode.cpp), under tapegrad's op names.
// Primitive ops (those `dispatch` runs by name) and composites (functions built of several
// ops, which call `autocastOp` at entry with their own name) share the one table.
// - 'lower': cast floating inputs to the region's dtype (matmul, linear, conv).
// - 'float32': cast floating inputs to float32 (ops whose range or accumulation half would ruin).
// - 'float32-read': as 'float32', but a float16/bfloat16 first input is passed as it is with the
//   op's output dtype set to float32: the kernel reads the half input and accumulates in float32, no
//   cast copy (PyTorch's fp32_set_opt_dtype: softmax(x, dtype=float32)). The same values.
// - 'promote': cast floating inputs to the widest floating dtype among them (ops that need one dtype).
// - 'banned': an error under autocast, with PyTorch's advice.
// float64 is never cast (PyTorch's is_eligible), nor are integer and bool inputs. Ops on no list
// run in their inputs' dtypes (relu of float16 stays float16; mixed inputs follow promotion).
/** How autocast treats an op (see {@link AUTOCAST_POLICY}). */
export type AutocastPolicy = 'lower' | 'float32' | 'float32-read' | 'promote' | 'banned';

/**
 * Which ops autocast runs in which dtype, by tapegrad op name: PyTorch's CUDA lists. Composite
 * ops (linear with its bias add, baddbmm, the losses) apply their entry at their own entry and
 * run their inner ops with autocast suspended, as PyTorch's autocast wrappers do; ops absent
 * here run as they are.
 */
export const AUTOCAST_POLICY: Readonly<Record<string, AutocastPolicy>> = {
  // lower precision: PyTorch's lower_precision_fp list
  matmul: 'lower',
  linear: 'lower',
  baddbmm: 'lower',
  einsum: 'lower',
  conv1d: 'lower',
  conv2d: 'lower',
  convTranspose2d: 'lower',
  scaledDotProductAttention: 'lower',
  // float32: PyTorch's fp32 list
  exp: 'float32',
  log: 'float32',
  log1p: 'float32',
  expm1: 'float32',
  pow: 'float32',
  softplus: 'float32',
  logsumexp: 'float32',
  // a composite: read half, its two uses of x would each round x's gradient to half before they
  // add up, where cast-then-layerNorm adds them in float32 and rounds once; so a cast
  layerNorm: 'float32',
  groupNorm: 'float32',
  norm: 'float32',
  cosineSimilarity: 'float32',
  prod: 'float32',
  cumsum: 'float32',
  cumprod: 'float32',
  mseLoss: 'float32',
  l1Loss: 'float32',
  smoothL1Loss: 'float32',
  huberLoss: 'float32',
  klDiv: 'float32',
  binaryCrossEntropyWithLogits: 'float32',
  linearCrossEntropy: 'float32',
  // float32 with the output dtype set (PyTorch's fp32_set_opt_dtype; crossEntropy is
  // log_softmax and nll_loss there): the kernels read half and accumulate in float32
  softmax: 'float32-read',
  logSoftmax: 'float32-read',
  sum: 'float32-read',
  crossEntropy: 'float32-read',
  nllLoss: 'float32-read',
  // promote: PyTorch's promote list
  cat: 'promote',
  where: 'promote',
  atan2: 'promote',
  scatterAdd: 'promote',
  // banned, as PyTorch
  binaryCrossEntropy: 'banned',
};

const BANNED: Record<string, string> = {
  binaryCrossEntropy:
    'binaryCrossEntropy (and BCELoss) is unsafe to autocast: a sigmoid in half precision before it saturates; ' +
    'combine the two with binaryCrossEntropyWithLogits (BCEWithLogitsLoss), which is safe to autocast',
};

// ---- regions --------------------------------------------------------------------------------

/** Options of {@link autocast}, as torch.autocast's arguments. */
export interface AutocastOptions {
  /** The device whose ops autocast casts ('cpu', 'webgpu'); ops of other devices run as they are. */
  device: Device;
  /** The lower precision: 'float16' (default on 'webgpu', as PyTorch's CUDA) or 'bfloat16' (default on 'cpu', as PyTorch's CPU). */
  dtype?: HalfDType;
  /** false turns autocast off for the device inside the region (default true). */
  enabled?: boolean;
  /** Cast each float32 parameter (a leaf that requires grad) once per region (default true). */
  cacheEnabled?: boolean;
}

const DEFAULT_DTYPE: Record<string, HalfDType> = { cpu: 'bfloat16', webgpu: 'float16' };

function openRegion(options: AutocastOptions): Region {
  if (options === null || typeof options !== 'object') throw new ValueError(`autocast: options must be an object { device, dtype?, enabled?, cacheEnabled? }; got ${String(options)}`);
  const { device, enabled = true, cacheEnabled = true } = options;
  // 'webgpu' before initWebGPU registers it is fine (a region opened early); a typo ('gpu') is not
  if (typeof device !== 'string' || !(device in DEFAULT_DTYPE || listBackends().includes(device))) {
    throw new ValueError(`autocast: device must be 'cpu', 'webgpu' or another registered backend's name; got ${typeof device === 'string' ? `'${device}'` : String(device)}`);
  }
  const dtype = options.dtype ?? DEFAULT_DTYPE[device] ?? 'float16';
  if (!isHalf(dtype)) throw new DTypeError(`autocast: dtype must be 'float16' or 'bfloat16' (the lower precision ops run in); got ${String(dtype)}`);
  if (typeof enabled !== 'boolean') throw new ValueError(`autocast: enabled must be a boolean; got ${String(enabled)}`);
  if (typeof cacheEnabled !== 'boolean') throw new ValueError(`autocast: cacheEnabled must be a boolean; got ${String(cacheEnabled)}`);
  // at region entry, not at the first cast deep inside the model (PyTorch's CUDA autocast warns and turns itself off instead)
  const unsupported = enabled && listBackends().includes(device) ? getBackend(device).unsupportedDTypes?.[dtype] : undefined;
  if (unsupported) throw new DTypeError(`autocast: dtype ${dtype} is not available on '${device}': ${unsupported}`);
  const parent = innermost();
  let outer: Region | undefined;
  for (let r = parent; r; r = r.parent) if (r.open && r.device === device && r.enabled) { outer = r; break; }
  const shared = outer && outer.dtype === dtype ? outer.cache : undefined;
  const region: Region = { device, dtype, enabled, cacheEnabled, cache: shared ?? new Map(), ownsCache: !shared, parent, open: true };
  countRegion(1, HOOKS);
  return region;
}

function closeRegion(region: Region): void {
  if (!region.open) return;
  const wasInnermost = innermost() === region;
  region.open = false;
  countRegion(-1, HOOKS);
  if (region.ownsCache) {
    for (const { cast } of region.cache.values()) cast.dispose();
    region.cache.clear();
  }
  // closed out of order (a region opened after it still open), the inner one stays innermost and skips this one
  if (wasInnermost) enter(region.parent);
}

/**
 * Mixed precision, torch.autocast: inside the region the ops of `device` on the lower-precision
 * list (matmul, linear, conv) run in `dtype`, those on the float32 list (softmax, logSoftmax,
 * exp, log, sums, norms, every loss) in float32, and the rest in their inputs' dtypes; see
 * {@link AUTOCAST_POLICY} and docs/amp.md. Parameters stay float32: the casts are ordinary ops,
 * so gradients arrive in the parameters' dtype. Backward runs with autocast off; call it outside.
 *
 * With `fn`, runs it in the region and returns its result (a Promise for an async `fn`: the region
 * then lasts until it settles, in its async flow only where the runtime has AsyncLocalStorage).
 * Without `fn`, returns a Disposable: `using _ = autocast({ device: 'webgpu' })` holds until the
 * block ends, across `await` in that flow. Regions nest; `enabled: false` turns it off inside.
 */
export function autocast(options: AutocastOptions): Disposable;
export function autocast<T>(options: AutocastOptions, fn: () => T): T;
export function autocast<T>(options: AutocastOptions, fn?: () => T): T | Disposable {
  if (fn !== undefined && typeof fn !== 'function') throw new ValueError(`autocast: fn must be a function; got ${typeof fn}`);
  const region = openRegion(options);
  if (fn === undefined) {
    enter(region);
    return { [Symbol.dispose]: () => closeRegion(region) };
  }
  return runIn(region, () => settle(region, fn));
}

function settle<T>(region: Region, fn: () => T): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeRegion(region);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => closeRegion(region)) as T;
  closeRegion(region);
  return result;
}

// ---- casts ----------------------------------------------------------------------------------

// PyTorch's is_eligible: floating and not float64.
const eligible = (t: Tensor | null | undefined): t is Tensor => t != null && isFloating(t.dtype) && t.dtype !== 'float64';

// the cast op ('copy' with a dtype, as ops/copy.ts's cast; importing that module here would make an import cycle evaluate it early)
const cast = (t: Tensor, dtype: DType): Tensor => run('copy', [t], { dtype });

/**
 * `t` in `dtype`, through the ordinary cast op (autograd records it). A float32 leaf that requires
 * grad (a parameter) cast to the region's dtype in grad mode is cached for the region, keyed by
 * the tensor and its storage version (an optimizer step in between casts it again).
 */
function castFor(region: Region, t: Tensor, dtype: DType, made: Tensor[]): Tensor {
  if (t.dtype === dtype) return t;
  const cacheable = region.cacheEnabled && dtype === region.dtype && t.dtype === 'float32' && t.requiresGrad && t.isLeaf && (autogradHooks()?.isGradEnabled() ?? false);
  if (!cacheable) {
    const c = cast(t, dtype);
    made.push(c);
    return c;
  }
  const hit = region.cache.get(t);
  if (hit && hit.version === t.version && !hit.cast.isDisposed) return hit.cast;
  hit?.cast.dispose();
  // the region disposes it when it closes, not the scope it was made in
  const c = keep(cast(t, dtype));
  region.cache.set(t, { version: t.version, cast: c });
  return c;
}

interface Applied<T> {
  inputs: T;
  setDType: boolean;
  made: Tensor[];
}

function apply<T extends readonly (Tensor | null | undefined)[]>(region: Region, name: string, policy: AutocastPolicy, inputs: T): Applied<T> {
  if (policy === 'banned') throw new TapegradError(`${name}: ${BANNED[name] ?? 'not allowed under autocast'}`);
  const made: Tensor[] = [];
  let target: DType;
  let setDType = false;
  if (policy === 'lower') target = region.dtype;
  else if (policy === 'promote') {
    const floats = inputs.filter(eligible);
    if (floats.length === 0) return { inputs, setDType, made };
    target = floats.map((t) => t.dtype).reduce((a, b) => promoteTypes(a, b));
  } else {
    target = 'float32';
    // a half first input (the one the kernel reads) stays as it is, and the op writes float32
    setDType = policy === 'float32-read' && eligible(inputs[0]) && isHalf(inputs[0].dtype);
  }
  const out = inputs.map((t, i) => (eligible(t) && !(setDType && i === 0) ? castFor(region, t, target, made) : t)) as unknown as T;
  return { inputs: out, setDType, made };
}

// attrs may be a function (an op whose attrs change between compiled replays): keep it one
function withDType(attrs: unknown): unknown {
  if (typeof attrs === 'function') return () => ({ ...(attrs as () => object)(), dtype: 'float32' });
  return { ...(attrs as object), dtype: 'float32' };
}


const HOOKS: AutocastPolicyHooks = {
  dispatch(region, name, inputs, attrs, dispatch) {
    const policy = AUTOCAST_POLICY[name];
    if (policy === undefined) return undefined;
    const a = apply(region, name, policy, inputs);
    if (!a.setDType && a.made.length === 0 && a.inputs.every((t, i) => t === inputs[i])) return undefined;
    const attrsOut = a.setDType ? withDType(attrs) : attrs;
    try {
      return withoutAutocast(() => dispatch(name, a.inputs, attrsOut));
    } finally {
      for (const t of a.made) t.dispose();
    }
  },
  op(region, name, inputs, fn) {
    const policy = AUTOCAST_POLICY[name];
    if (!region || policy === undefined) return withoutAutocast(() => fn(inputs));
    const a = apply(region, name, policy, inputs);
    let result: ReturnType<typeof fn> | undefined;
    try {
      return (result = withoutAutocast(() => fn(a.inputs, a.setDType ? 'float32' : undefined)));
    } finally {
      for (const t of a.made) if (t !== (result as unknown)) t.dispose();
    }
  },
};
