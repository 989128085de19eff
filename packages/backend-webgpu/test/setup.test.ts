// What needs no GPU: adapter errors (with a stand-in GPU object) and kernel coverage.
import { expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { DeviceError, hasKernel, listOps } from '@tapegrad/tensor';
import { initWebGPU } from '../src/index.js';

it('no adapter: the error says why and how to get a software one', async () => {
  const none = { requestAdapter: async () => null } as unknown as GPU;
  const err = await initWebGPU({ gpu: none }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  expect((err as Error).message).toMatch(/found no WebGPU adapter/);
  expect((err as Error).message).toMatch(/apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1/);
  const failing = { requestAdapter: async () => { throw new Error('driver exploded'); } } as unknown as GPU;
  await expect(initWebGPU({ gpu: failing })).rejects.toThrow(/requesting an adapter from the GPU object passed to initWebGPU failed: driver exploded/);
});

// Ops that run on the CPU but not yet here, each with the issue that will add its kernel.
const NOT_YET: Record<string, string> = {};

it('every op with a CPU kernel has a WebGPU kernel (or is listed as not yet)', () => {
  const missing = listOps().filter((op) => hasKernel(op, 'cpu') && !hasKernel(op, 'webgpu') && !(op in NOT_YET));
  expect(missing).toEqual([]);
  for (const op of Object.keys(NOT_YET)) expect(hasKernel(op, 'webgpu'), `${op} has a kernel now: drop it from NOT_YET`).toBe(false);
});
