/**
 * tapegrad: the one import users write (`import * as tg from 'tapegrad'`). It re-exports the
 * tensor core and autograd and registers the CPU backend, which is the default device.
 * `await initWebGPU()` opts into the GPU. This entry runs anywhere (browsers, bundlers,
 * `require`); in Node, `import` gets node.ts, which also honours `TAPEGRAD_DEVICE`.
 */
import { enableCpuFusion } from '@tapegrad/backend-cpu';
import type { InitWebGPUOptions, WebGPUBackend } from '@tapegrad/backend-webgpu';
import { compile as compileGraph, type Compiled, type CompileOptions } from '@tapegrad/tensor';

export type { InitWebGPUOptions } from '@tapegrad/backend-webgpu';

/**
 * Find a WebGPU adapter (navigator.gpu in browsers, Dawn's `webgpu` package in Node), open a
 * device and register the 'webgpu' device; a DeviceError says why when there is none. The WebGPU
 * backend loads on the first call (bundlers put it in a chunk of its own), so a page that stays
 * on the CPU never downloads its kernels.
 */
export async function initWebGPU(options?: InitWebGPUOptions): Promise<WebGPUBackend> {
  return (await import('@tapegrad/backend-webgpu')).initWebGPU(options);
}

export * from '@tapegrad/tensor';

/**
 * Trace `fn` on its first call for given inputs and replay the graph afterwards, its kernels fused
 * where nothing outside can tell (docs/compiler.md), as `torch.compile` and `jax.jit`. The CPU
 * backend's fusion is switched on here, not at import, so a page that never compiles does not
 * download it.
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, options?: CompileOptions): Compiled<A, R> {
  enableCpuFusion();
  return compileGraph(fn, options);
}
export { noGrad, enableGrad, isGradEnabled, gradcheck, GradcheckError, registerGradient, sumToShape, type GradientRule, type GradContext, type GradcheckOptions } from '@tapegrad/autograd';
export {
  customOp, kernelOp, FunctionCtx,
  type CompositeOpDef, type KernelOpDef, type KernelOp, type KernelGradCtx, type Gradients, type CustomCpuKernel, type CpuTensorView, type WgslKernel, type WgslParam, type WgslProgram,
} from '@tapegrad/autograd';

// Layers, functional ops, initialisers, optimizers and loss scaling (torch.nn, torch.nn.init, torch.optim, torch.cuda.amp).
export * as nn from '@tapegrad/nn';
export { optim, init, amp } from '@tapegrad/nn';

// Datasets and loaders as a namespace (torch.utils.data); saving and loading at the top, as torch.save/torch.load.
export * as data from '@tapegrad/data';
export { save, load, serializeSafetensors, parseSafetensors, FormatError } from '@tapegrad/data';
