import { DeviceError } from '@tapegrad/tensor';
import type { PlatformGPU } from './device.js';

/**
 * WebGPU in Node: Dawn from the `webgpu` npm package (an optional peer dependency), reached
 * through package.json's `#node` import under the `node` export condition only, so browser
 * bundles never see it (no-node.ts elsewhere).
 */
export const platform: PlatformGPU = {
  async gpu(dawnOptions = ['backend=vulkan']) {
    let dawn: typeof import('webgpu');
    try {
      // a specifier bundlers do not follow: a Node bundle must not try to pack Dawn's native addon
      const dawnPackage = 'webgpu';
      dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ dawnPackage)) as typeof import('webgpu');
    } catch (e) {
      throw new DeviceError(
        `initWebGPU: there is no navigator.gpu here and the 'webgpu' package (Dawn for Node, an optional peer dependency of @tapegrad/backend-webgpu) ` +
          `could not be loaded (${(e as Error).message}); install it with \`npm install webgpu\``,
      );
    }
    return { gpu: dawn.create(dawnOptions), where: `Dawn (${dawnOptions.join(' ')})` };
  },
  noAdapterHint:
    'On a machine without a GPU, Mesa\'s lavapipe Vulkan driver gives a software adapter: on Debian bookworm, as root, add ' +
    '"deb <mirror> bookworm-backports main" to /etc/apt/sources.list.d/ and run ' +
    '`apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
    '(Mesa 22 from plain bookworm is too old for Dawn); if Dawn asks for XDG_RUNTIME_DIR, point it at a private (0700) directory.',
};
