// initWebGPU as a browser bundle gets it: package.json's `#node` import without the `node` condition.
import { expect, it, vi } from 'vitest';
import '@tapegrad/backend-cpu';
import { DeviceError } from '@tapegrad/tensor';
import { initWebGPU } from '../src/index.js';

vi.mock('#node', () => import('../src/no-node.js'));

it('without navigator.gpu, the error says what WebGPU needs in a browser, and nothing about Node', async () => {
  const err = await initWebGPU().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  expect((err as Error).message).toMatch(/^initWebGPU: there is no navigator\.gpu here: .*secure context \(WebGPU needs https or localhost\)/);
  expect((err as Error).message).not.toMatch(/Dawn|npm install|apt-get/);
  expect((err as Error).message).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/); // issue 17
});

it('with no adapter, the advice is about the browser, not apt-get', async () => {
  const none = { requestAdapter: async () => null } as unknown as GPU;
  const err = await initWebGPU({ gpu: none }).catch((e: unknown) => e);
  expect((err as Error).message).toMatch(/found no WebGPU adapter .*chrome:\/\/gpu/);
  expect((err as Error).message).not.toMatch(/apt-get|lavapipe/);
  expect((err as Error).message).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu .* --enable-unsafe-webgpu/); // issue 17
});
