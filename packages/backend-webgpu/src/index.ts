/// <reference types="@webgpu/types" preserve="true" />
/**
 * @tapegrad/backend-webgpu: WGSL compute kernels for tapegrad. `await initWebGPU()` finds an
 * adapter (navigator.gpu in browsers, Dawn's `webgpu` package in Node), opens a device and
 * registers the 'webgpu' device; tensors then move there with `t.to('webgpu')`.
 * @packageDocumentation
 * @module @tapegrad/backend-webgpu
 */
import './kernels/elementwise.js';
import './kernels/reduce.js';
import './kernels/matmul.js';
import './kernels/indexing.js';
import './kernels/join.js';
import './kernels/softmax.js';
import './kernels/activation.js';
import './kernels/optim.js';
import './kernels/losses.js';
import './kernels/pool.js';
import './kernels/conv.js';
import './kernels/remap.js';
import './kernels/multinomial.js';
// issue 16: scans and sorting
import './kernels/scan.js';
import './kernels/sort.js';

export { initWebGPU, type InitWebGPUOptions } from './device.js';
export { WebGPUBackend, GpuHandle } from './backend.js';
export { type Program, type WebGPUKernel, type GpuView, preamble, wgslType, computeType, store, coalesce, broadcastStrides, walk, walkMeta, numelOf, DTYPE_CODE, WORKGROUP } from './program.js';
export { mapProgram, copyProgram } from './kernels/elementwise.js';
