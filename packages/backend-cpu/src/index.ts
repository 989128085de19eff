/**
 * The CPU backend of tapegrad, registered on import as the 'cpu' device: kernels on typed
 * arrays in TypeScript, with matrix multiplication (which convolution runs on too), the common
 * elementwise ops and the SGD step in WebAssembly SIMD, on storage that lives in the WebAssembly
 * memory where it can; matrix multiplication on worker threads.
 * @packageDocumentation
 * @module @tapegrad/backend-cpu
 */
import { addPoolReporter, registerBackend, type Backend, type BackendFusion, type DType, type TypedArray } from '@tapegrad/tensor';
import { fillsOutputs, type CpuKernel, type CpuView } from './strided.js';
import { poolAlloc, poolBytes, poolFree } from './pool.js';
import { hasHalf, runWidened } from './half.js';
import { cpuFusion } from './fuse.js';
export { setPoolCap as setCpuPoolCap } from './pool.js';
import './kernels/elementwise.js';
import './kernels/reduce.js';
import './kernels/matmul.js';
import './kernels/indexing.js';
import './kernels/join.js';
import './kernels/softmax.js';
import './kernels/cross-entropy.js';
import './kernels/conv.js';
import './kernels/pool.js';
import './kernels/activation.js';
import './kernels/optim.js';
import './kernels/remap.js';
import './kernels/multinomial.js';
// issue 16: scans and sorting
import './kernels/scan.js';
import './kernels/sort.js';

/** The CPU backend: storage is a typed array; a kernel is a function over typed arrays. */
export const cpuBackend: Backend<TypedArray, CpuKernel> = {
  name: 'cpu',
  alloc: (dtype: DType, length: number, zero?: boolean) => poolAlloc(dtype, length, zero),
  free: (handle, dtype, length) => poolFree(handle, dtype, length),
  write: (handle, data) => handle.set(data),
  read: async (handle) => handle.slice(),
  readSync: (handle) => handle,
  run: (kernel, inputs, outputs, attrs, op) =>
    hasHalf(inputs as CpuView[], outputs as CpuView[]) ? runWidened(kernel, inputs as CpuView[], outputs as CpuView[], attrs, op) : kernel(inputs as CpuView[], outputs as CpuView[], attrs, op),
  fillsOutputs,
  pooledBytes: poolBytes,
  elementwiseInPlace: true,
};
registerBackend(cpuBackend);

/**
 * Gives the CPU backend its part in compile's fusion (./fuse.ts). The umbrella package's
 * `compile` calls it, so a page that never compiles does not download the fusion code
 * (tests/consumer's size budget for a CPU page); without it, compiled graphs replay unfused.
 */
export function enableCpuFusion(): void {
  (cpuBackend as { fusion?: BackendFusion }).fusion = cpuFusion;
}
addPoolReporter(() => ['cpu', poolBytes()]);

export { dense, plan, lineBases, splitDims, broadcastStrides, fills, type CpuKernel, type CpuView } from './strided.js';
export { gemm, matmulF32 } from './kernels/matmul.js';
export {
  setCpuKernelOptions,
  cpuKernelInfo,
  cpuWorkersReady,
  terminateCpuWorkers,
  type CpuKernelOptions,
  type CpuKernelInfo,
  type SimdLevel,
  type StridedF32,
} from './wasm/runtime.js';
export { unaryKernel, binaryKernel } from './kernels/elementwise.js';
export type { Conv2dAttrs } from './kernels/conv.js';
export type { Pool2dAttrs } from './kernels/pool.js';
export type { SgdStepAttrs, AdamStepAttrs } from './kernels/optim.js';
