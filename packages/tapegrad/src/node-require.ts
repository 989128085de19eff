/**
 * tapegrad as Node's `require` gets it (Node 20.19+ loads ES modules synchronously): index.ts
 * without the top-level await, which `require` cannot wait for. `TAPEGRAD_DEVICE=webgpu` is
 * refused rather than ignored.
 */
import { DeviceError } from '@tapegrad/tensor';
import { deviceFromEnv } from './env.js';

export * from './index.js';

if (deviceFromEnv() === 'webgpu') {
  throw new DeviceError(
    "tapegrad: TAPEGRAD_DEVICE=webgpu needs an asynchronous set-up that require('tapegrad') cannot wait for; " +
      "use import (ESM), or call `await tg.initWebGPU()` and `tg.setDefaultDevice('webgpu')` yourself",
  );
}
