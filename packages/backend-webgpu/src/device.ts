import { DeviceError, getBackend, hasBackend, registerBackend, addPoolReporter } from '@tapegrad/tensor';
import { WebGPUBackend } from './backend.js';

/** Options of initWebGPU. */
export interface InitWebGPUOptions {
  /** Options for Dawn's `create()` in Node (default `['backend=vulkan']`). */
  dawnOptions?: string[];
  /** Passed to `requestAdapter` (default: high-performance). */
  powerPreference?: GPUPowerPreference;
  /** Use this GPU object instead of `navigator.gpu` or Dawn (for tests and embedders). */
  gpu?: GPU;
}

const SOFTWARE_ADAPTER_HINT =
  'On a machine without a GPU, Mesa\'s lavapipe Vulkan driver gives a software adapter: on Debian bookworm, as root, add ' +
  '"deb <mirror> bookworm-backports main" to /etc/apt/sources.list.d/ and run ' +
  '`apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
  '(Mesa 22 from plain bookworm is too old for Dawn); if Dawn asks for XDG_RUNTIME_DIR, point it at a private (0700) directory. ' +
  'In a browser, use one with WebGPU enabled.';

async function findGPU(options: InitWebGPUOptions): Promise<{ gpu: GPU; where: string }> {
  if (options.gpu) return { gpu: options.gpu, where: 'the GPU object passed to initWebGPU' };
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, where: 'navigator.gpu' };
  let dawn: typeof import('webgpu');
  try {
    // a specifier bundlers do not follow: browser builds must not try to pack Dawn's native addon
    const dawnPackage = 'webgpu';
    dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ dawnPackage)) as typeof import('webgpu');
  } catch (e) {
    throw new DeviceError(
      `initWebGPU: there is no navigator.gpu here and the 'webgpu' package (Dawn for Node) could not be loaded ` +
        `(${(e as Error).message}); install it with \`npm install webgpu\``,
    );
  }
  return { gpu: dawn.create(options.dawnOptions ?? ['backend=vulkan']), where: `Dawn (${(options.dawnOptions ?? ['backend=vulkan']).join(' ')})` };
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
    throw new DeviceError(`initWebGPU: requesting an adapter from ${where} failed: ${(e as Error).message}. ${SOFTWARE_ADAPTER_HINT}`);
  }
  if (!adapter) throw new DeviceError(`initWebGPU: ${where} found no WebGPU adapter (no GPU or no driver it can use). ${SOFTWARE_ADAPTER_HINT}`);
  // Ask for the adapter's own buffer limits: the defaults (128 MiB bindings) are far below many GPUs'.
  const l = adapter.limits;
  const device = await adapter.requestDevice({
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
