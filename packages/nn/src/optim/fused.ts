import { ShapeError, dispatch, fmt, hasKernel, shapesEqual, defineOp, type Tensor, type SgdStepAttrs, type AdamStepAttrs } from '@tapegrad/tensor';

// Fused optimizer updates: ops with no outputs that update the parameter and its state in
// place in one pass (the CPU kernels are in @tapegrad/backend-cpu's kernels/optim.ts). An
// optimizer uses them where the device has the kernel and every tensor is contiguous, and the
// composite update (the same arithmetic as separate ops) otherwise.


function sameShapes(op: string) {
  return (inputs: readonly Tensor[]) => {
    const p = inputs[0]!;
    inputs.forEach((t, i) => {
      if (!shapesEqual(t.shape, p.shape) || t.dtype !== p.dtype) {
        throw new ShapeError(`${op}: input ${i} is ${t.dtype} ${fmt(t.shape)}, but the parameter is ${p.dtype} ${fmt(p.shape)}`);
      }
    });
    return [];
  };
}
// inputs: parameter, gradient, then the state the step writes (momentum buffer; Adam's moments and max)
defineOp<SgdStepAttrs>({ name: 'sgdStep', differentiable: false, mutates: [0, 2], infer: sameShapes('sgdStep') });
defineOp<AdamStepAttrs>({ name: 'adamStep', differentiable: false, mutates: [0, 2, 3, 4], infer: sameShapes('adamStep') });

/** Whether the fused op can run on these tensors. */
export function canFuse(op: string, tensors: readonly Tensor[]): boolean {
  return hasKernel(op, tensors[0]!.device) && tensors.every((t) => t.isContiguous());
}
/**
 * Run a fused update. Its attrs are a function: a compiled training step's replay calls it again
 * (`dispatch`), so the kernel gets the hyperparameters of the moment (a scheduler's learning rate)
 * and the function may advance counters (Adam's step) as each eager step would.
 */
export function fusedStep(op: 'sgdStep' | 'adamStep', tensors: Tensor[], attrs: () => SgdStepAttrs | AdamStepAttrs): void {
  dispatch(op, tensors, attrs);
}

export type { SgdStepAttrs, AdamStepAttrs };
