import type { Backend, TensorView } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../dtype.js';
import { poisonArray, poisonMode } from '../poison.js';
import type { Shape } from '../shape.js';

/** A kernel operand in a replay program: the handle in `slot`, indexed as the trace indexed it. */
export interface SlotView {
  readonly slot: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * One step of a compiled function's replay, in the order the trace ran them: a kernel, a host
 * write (a constant, or random numbers drawn again), the zero-fill (or, in poison mode, the
 * poisoning) of a planned block that a new buffer takes over, the allocation and release of
 * storage made per call (results, and every buffer of a backend whose memory is not planned),
 * and a device error check.
 */
export type ReplayStep =
  | {
      readonly kind: 'kernel';
      readonly backend: Backend;
      readonly op: string;
      readonly kernel: unknown;
      readonly inputs: readonly SlotView[];
      readonly outputs: readonly SlotView[];
      readonly attrs: unknown;
      /** Attrs read again at each replay (an optimizer's learning rate and step count). */
      readonly live: (() => unknown) | undefined;
    }
  | {
      readonly kind: 'write';
      readonly backend: Backend;
      readonly slot: number;
      /** The host data: a constant, or a function drawing random numbers again (from the generator eager used). */
      readonly data: TypedArray | (() => TypedArray);
    }
  | { readonly kind: 'fill'; readonly backend: Backend; readonly slot: number; readonly dtype: DType; readonly length: number; readonly zero: boolean }
  | { readonly kind: 'alloc'; readonly slot: number }
  | { readonly kind: 'free'; readonly slot: number }
  /** `Backend.checkErrors` on these slots' handles, where eager's optimizer step called it (`checkDeviceErrors`). */
  | { readonly kind: 'check'; readonly backend: Backend; readonly slots: readonly number[] };

/**
 * A compiled function's graph, planned: steps over handle slots. The slots of planned blocks and
 * constants hold the same handle at every call; those of arguments, captured tensors and storage
 * made per call are filled for each call (through `alloc` for the latter).
 */
export interface ReplayProgram {
  readonly slots: number;
  readonly steps: readonly ReplayStep[];
}
/** What a replay gets for one call: the handles by slot, and storage made per call. */
export interface ReplayContext {
  readonly handles: unknown[];
  /** Make this call's storage for `slot` (an 'alloc' step) and put its handle in `handles`. */
  alloc(slot: number): void;
  /** Release the storage made for `slot` (a 'free' step, after its last reader). */
  free(slot: number): void;
}
/** Runs a replay program once per call. */
export type Replayer = (ctx: ReplayContext) => void;

/**
 * The replayer every backend gets unless it brings its own (`Backend.replayer`): the program's
 * kernels called in a flat loop through `Backend.run`, with view objects built once (only their
 * handles are set per call), no dispatch, tape or Tensor objects.
 */
export function genericReplayer(program: ReplayProgram): Replayer {
  const fills = new Map<string, TypedArray>();
  const filled = (dtype: DType, length: number, poison: boolean): TypedArray => {
    const key = `${dtype}:${length}:${poison}`;
    let a = fills.get(key);
    if (!a) {
      fills.set(key, (a = allocArray(dtype, length)));
      if (poison) poisonArray(a);
    }
    return a;
  };
  const views = (vs: readonly SlotView[]) => vs.map((v): TensorView & { handle: unknown } => ({ handle: undefined, dtype: v.dtype, shape: v.shape, strides: v.strides, offset: v.offset }));
  const steps = program.steps.map((s) => (s.kind === 'kernel' ? { ...s, inViews: views(s.inputs), outViews: views(s.outputs) } : s));
  return (ctx) => {
    const h = ctx.handles;
    for (const s of steps) {
      switch (s.kind) {
        case 'kernel':
          for (let i = 0; i < s.inputs.length; i++) s.inViews[i]!.handle = h[s.inputs[i]!.slot];
          for (let i = 0; i < s.outputs.length; i++) s.outViews[i]!.handle = h[s.outputs[i]!.slot];
          s.backend.run(s.kernel, s.inViews, s.outViews, s.live ? s.live() : s.attrs, s.op);
          break;
        case 'write':
          s.backend.write(h[s.slot], typeof s.data === 'function' ? s.data() : s.data);
          break;
        case 'fill':
          // as dispatch hands out storage: zeroed, unless the kernel writes every element (then poisoned in poison mode)
          if (s.zero || poisonMode()) s.backend.write(h[s.slot], filled(s.dtype, s.length, !s.zero));
          break;
        case 'alloc':
          ctx.alloc(s.slot);
          break;
        case 'free':
          ctx.free(s.slot);
          break;
        case 'check':
          s.backend.checkErrors?.(s.slots.map((i) => h[i]));
          break;
      }
    }
  };
}
