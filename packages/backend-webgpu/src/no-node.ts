import { DeviceError } from '@tapegrad/tensor';
import type { PlatformGPU } from './device.js';

// Where WebGPU is off or the GPU is blocklisted, Chrome can still be asked for it (issue 17).
const FLAGS =
  'In Chrome, chrome://flags/#enable-unsafe-webgpu (on Linux also #enable-vulkan) turns it on, or start Chrome with ' +
  '--enable-unsafe-webgpu, which also gives a software adapter (SwiftShader) on a machine without a GPU; ' +
  'https://caniuse.com/webgpu lists the browsers that have it. The CPU device works everywhere.';

/** WebGPU outside Node (package.json's `#node` import): navigator.gpu or nothing; see node.ts. */
export const platform: PlatformGPU = {
  gpu() {
    return Promise.reject(
      new DeviceError(
        'initWebGPU: there is no navigator.gpu here: this browser has no WebGPU, or it is off, or the page is not a secure context ' +
          `(WebGPU needs https or localhost). ${FLAGS}`,
      ),
    );
  },
  noAdapterHint: `The browser's WebGPU may have blocklisted this GPU or driver (chrome://gpu says why in Chromium). ${FLAGS}`,
};
