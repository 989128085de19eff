import { DeviceError } from '@tapegrad/tensor';
import type { PlatformGPU } from './device.js';

/** WebGPU outside Node (package.json's `#node` import): navigator.gpu or nothing; see node.ts. */
export const platform: PlatformGPU = {
  gpu() {
    return Promise.reject(
      new DeviceError(
        'initWebGPU: there is no navigator.gpu here: this browser has no WebGPU, or it is off, or the page is not a secure context ' +
          '(WebGPU needs https or localhost); use a browser with WebGPU enabled, or stay on the CPU',
      ),
    );
  },
  noAdapterHint: "The browser's WebGPU may have blocklisted this GPU or driver (chrome://gpu says why in Chromium); the CPU device works everywhere.",
};
