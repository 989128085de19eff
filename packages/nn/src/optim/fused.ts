import { ShapeError, dispatch, fmt, hasKernel, shapesEqual, defineOp, type Tensor, type SgdStepAttrs, type AdamStepAttrs, type ForeachStepAttrs } from '@tapegrad/tensor';

// Fused optimizer updates: ops with no outputs that update the parameter and its state in
// place in one pass (the CPU kernels are in @tapegrad/backend-cpu's kernels/optim.ts). An
// optimizer uses them where the device has the kernel and every tensor is contiguous, and the
// composite update (the same arithmetic as separate ops) otherwise. The foreach ops run the
// update of many parameters in one kernel call (PyTorch's foreach/fused optimizers): one dispatch
// per step rather than one per parameter.

function sameShapes(op: string, inputs: readonly Tensor[], at = 0, what = '') {
  const p = inputs[0]!;
  inputs.forEach((t, i) => {
    if (!shapesEqual(t.shape, p.shape) || t.dtype !== p.dtype) {
      throw new ShapeError(`${op}: ${what}input ${i + at} is ${t.dtype} ${fmt(t.shape)}, but the parameter is ${p.dtype} ${fmt(p.shape)}`);
    }
  });
}
// inputs: parameter, gradient, then the state the step writes (momentum buffer; Adam's moments and max)
defineOp<SgdStepAttrs>({ name: 'sgdStep', differentiable: false, mutates: [0, 2], infer: (inputs) => (sameShapes('sgdStep', inputs), []) });
defineOp<AdamStepAttrs>({ name: 'adamStep', differentiable: false, mutates: [0, 2, 3, 4], infer: (inputs) => (sameShapes('adamStep', inputs), []) });

/** The inputs of one parameter of a foreach step, and how many there are per parameter. */
const width = (inputs: number, a: ForeachStepAttrs<unknown>) => inputs / a.each.length;
function defineForeach(op: string) {
  defineOp<ForeachStepAttrs<unknown>>({
    name: op,
    differentiable: false,
    // everything but the gradients (the second input of each parameter's run)
    mutates: (inputs, a) => Array.from({ length: inputs }, (_, i) => i).filter((i) => i % width(inputs, a) !== 1),
    infer: (inputs, a) => {
      const w = width(inputs.length, a);
      if (!Number.isInteger(w) || w < 2) throw new ShapeError(`${op}: got ${inputs.length} inputs for ${a.each.length} parameters; expected the same number for each, at least 2`);
      for (let k = 0; k < inputs.length; k += w) sameShapes(op, inputs.slice(k, k + w), k, `parameter ${k / w}: `);
      if (inputs.some((t) => t.dtype !== inputs[0]!.dtype)) throw new ShapeError(`${op}: the parameters are of several dtypes; expected one`);
      return [];
    },
  });
}
defineForeach('sgdStepForeach');
defineForeach('adamStepForeach');

/** One parameter's fused update: the op, its inputs, and its attrs (read at each call, and again at each replay). */
export interface FusedUpdate {
  /** The single op (`step()` runs its foreach op over many parameters). */
  readonly op: 'sgdStep' | 'adamStep';
  /** The op's inputs: the parameter, its gradient, then the state the update writes. */
  readonly tensors: readonly Tensor[];
  /** The op's attrs, read when it runs and again at each replay of a compiled step. */
  readonly attrs: () => SgdStepAttrs | AdamStepAttrs;
}

/** Whether the fused op can run on these tensors. */
export function canFuse(op: string, tensors: readonly Tensor[]): boolean {
  return hasKernel(op, tensors[0]!.device) && tensors.every((t) => t.isContiguous());
}
/**
 * Run fused updates: those of one op, device, dtype and inputs per parameter as one foreach
 * kernel call where the device has it (the results are the single op's, element for element),
 * the others one by one. Their attrs are functions: a compiled training step's replay calls them
 * again (`dispatch`), so the kernel gets the hyperparameters of the moment (a scheduler's
 * learning rate), and they may advance counters (Adam's step) as each eager step would.
 */
export function fusedSteps(updates: readonly FusedUpdate[]): void {
  const groups = new Map<string, FusedUpdate[]>();
  for (const u of updates) {
    const t = u.tensors[0]!;
    const key = `${u.op} ${t.device} ${t.dtype} ${u.tensors.length}`;
    const list = groups.get(key);
    if (list) list.push(u);
    else groups.set(key, [u]);
  }
  for (const list of groups.values()) {
    const { op, tensors } = list[0]!;
    if (list.length > 1 && hasKernel(`${op}Foreach`, tensors[0]!.device)) {
      dispatch(`${op}Foreach`, list.flatMap((u) => u.tensors), () => ({ each: list.map((u) => u.attrs()) }));
    } else {
      for (const u of list) dispatch(u.op, u.tensors, u.attrs);
    }
  }
}

export type { SgdStepAttrs, AdamStepAttrs, ForeachStepAttrs };
