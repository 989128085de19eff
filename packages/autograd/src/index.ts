/**
 * Reverse-mode autodiff for tapegrad: the tape that records ops as they run, `backward`,
 * gradient rules for the core ops, `noGrad`, the custom-op API (`customOp`, `kernelOp`) and
 * `gradcheck`.
 * @packageDocumentation
 * @module @tapegrad/autograd
 */
export { registerGradient, hasGradient, noGrad, enableGrad, isGradEnabled, GradNode, type GradientRule, type GradContext } from './tape.js';
export { gradcheck, GradcheckError, type GradcheckOptions } from './gradcheck.js';
export { sumToShape } from './grads/util.js';
import './grads/elementwise.js';
import './grads/view.js';
import './grads/reduce.js';
import './grads/matmul.js';
import './grads/indexing.js';
import './grads/join.js';
import './grads/softmax.js';
import './grads/remap.js';
// issue 16
import './grads/scan.js';
import './grads/sort.js';
export {
  customOp, kernelOp, FunctionCtx,
  type CompositeOpDef, type KernelOpDef, type KernelOp, type KernelGradCtx, type Gradients, type CustomCpuKernel, type CpuTensorView, type WgslKernel, type WgslParam, type WgslProgram,
} from './custom.js';
