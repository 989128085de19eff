import { DeviceError, getBackend, hasBackend, registerBackend, addPoolReporter } from '@tapegrad/tensor';
import { WebGPUBackend } from './backend.js';
import { platform } from '#node';

/** Options of initWebGPU. */
export interface InitWebGPUOptions {
  /** Options for Dawn's `create()` in Node (default `['backend=vulkan']`). */
  dawnOptions?: string[];
  /** Passed to `requestAdapter` (default: high-performance). */
  powerPreference?: GPUPowerPreference;
  /** Use this GPU object instead of `navigator.gpu` or Dawn (for tests and embedders). */
  gpu?: GPU;
  /**
   * Request the `shader-f16` feature, which float16 tensors need, when the adapter has it
   * (default true). False opens the device without it, as on an adapter that lacks it.
   */
  shaderF16?: boolean;
}

/** How a platform finds a GPU when there is no navigator.gpu (package.json's `#node` import: node.ts or no-node.ts). */
export interface PlatformGPU {
  /** A GPU object from the platform's own WebGPU, or a DeviceError saying why there is none. */
  gpu(dawnOptions?: string[]): Promise<{ gpu: GPU; where: string }>;
  /** Advice for when a GPU object gives no adapter. */
  noAdapterHint: string;
}

function findGPU(options: InitWebGPUOptions): Promise<{ gpu: GPU; where: string }> {
  if (options.gpu) return Promise.resolve({ gpu: options.gpu, where: 'the GPU object passed to initWebGPU' });
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return Promise.resolve({ gpu: nav.gpu, where: 'navigator.gpu' });
  return platform.gpu(options.dawnOptions);
}

let pending: Promise<WebGPUBackend> | undefined;
let reporterAdded = false;

/**
 * Find a WebGPU adapter, open a device and register the 'webgpu' backend. Calling it again
 * returns the same backend, unless its device was lost: then a new device is opened (tensors
 * on the lost one stay unusable).
 */
export function initWebGPU(options: InitWebGPUOptions = {}): Promise<WebGPUBackend> {
  if (pending) {
    return pending.then(
      (b) => (b.lost ? ((pending = undefined), initWebGPU(options)) : b),
      () => ((pending = undefined), initWebGPU(options)),
    );
  }
  pending = open(options);
  return pending;
}

async function open(options: InitWebGPUOptions): Promise<WebGPUBackend> {
  const { gpu, where } = await findGPU(options);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new DeviceError(`initWebGPU: requesting an adapter from ${where} failed: ${(e as Error).message}. ${platform.noAdapterHint}`);
  }
  if (!adapter) throw new DeviceError(`initWebGPU: ${where} found no WebGPU adapter (no GPU or no driver it can use). ${platform.noAdapterHint}`);
  // Ask for the adapter's own buffer limits: the defaults (128 MiB bindings) are far below many GPUs'.
  const l = adapter.limits;
  // float16 storage is WGSL's f16: optional, so asked for only where the adapter has it
  const f16 = options.shaderF16 !== false && adapter.features.has('shader-f16');
  const device = await adapter.requestDevice({
    requiredFeatures: f16 ? ['shader-f16'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const info = adapter.info;
  const backend = new WebGPUBackend(device, `${info.vendor} ${info.architecture} ${info.description}`.trim());
  // Dawn's instance must outlive its devices: if the GPU object were collected, Node would
  // crash in Dawn's threads. The backend holds it.
  backend.keepAlive = [gpu, adapter];
  registerBackend(backend);
  if (!reporterAdded) {
    reporterAdded = true;
    addPoolReporter(() => ['webgpu', hasBackend('webgpu') ? (getBackend('webgpu') as WebGPUBackend).pooledBytes() : 0]);
  }
  return backend;
}
