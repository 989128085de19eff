/**
 * tapegrad: the one import users write (`import * as tg from 'tapegrad'`). It re-exports the
 * tensor core and autograd and registers the CPU backend, which is the default device.
 * `await initWebGPU()` opts into the GPU; so does the environment variable
 * `TAPEGRAD_DEVICE=webgpu`, which also makes it the default device.
 */
import '@tapegrad/backend-cpu';
import { initWebGPU } from '@tapegrad/backend-webgpu';
import { setDefaultDevice } from '@tapegrad/tensor';

export { initWebGPU, type InitWebGPUOptions } from '@tapegrad/backend-webgpu';

export * from '@tapegrad/tensor';
export { noGrad, enableGrad, isGradEnabled, gradcheck, GradcheckError, registerGradient, sumToShape, type GradientRule, type GradContext, type GradcheckOptions } from '@tapegrad/autograd';
export {
  customOp, kernelOp, FunctionCtx,
  type CompositeOpDef, type KernelOpDef, type KernelOp, type KernelGradCtx, type Gradients, type CustomCpuKernel, type CpuTensorView, type WgslKernel, type WgslParam, type WgslProgram,
} from '@tapegrad/autograd';

// Layers, functional ops, initialisers and optimizers (torch.nn, torch.nn.init, torch.optim).
export * as nn from '@tapegrad/nn';
export { optim, init } from '@tapegrad/nn';

// Datasets and loaders as a namespace (torch.utils.data); saving and loading at the top, as torch.save/torch.load.
export * as data from '@tapegrad/data';
export { save, load, serializeSafetensors, parseSafetensors, FormatError } from '@tapegrad/data';

const requested = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TAPEGRAD_DEVICE;
if (requested === 'webgpu') {
  await initWebGPU();
  setDefaultDevice('webgpu');
} else if (requested !== undefined && requested !== 'cpu') {
  throw new Error(`tapegrad: TAPEGRAD_DEVICE must be 'cpu' or 'webgpu'; got '${requested}'`);
}
