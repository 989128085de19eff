/**
 * tapegrad as Node's `import` gets it (the `node` + `import` export condition): everything
 * index.ts exports, after `TAPEGRAD_DEVICE=webgpu` has opened WebGPU and made it the default
 * device. Opening a device is asynchronous, so this takes a top-level await, which only this
 * entry has: a top-level await breaks default Vite builds, esbuild's iife format and `require`.
 */
import { setDefaultDevice } from '@tapegrad/tensor';
import { deviceFromEnv } from './env.js';
import { initWebGPU } from './index.js';

export * from './index.js';

if (deviceFromEnv() === 'webgpu') {
  await initWebGPU();
  setDefaultDevice('webgpu');
}
