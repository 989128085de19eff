// float16 on a device without the shader-f16 feature: initWebGPU({ shaderF16: false }) opens the
// device as an adapter without it would (this file's own device: vitest runs each file apart).
import { expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import * as tg from '@tapegrad/tensor';
import { initWebGPU, type WebGPUBackend } from '../src/index.js';

let backend: WebGPUBackend | undefined;
let why = '';
try {
  backend = await initWebGPU({ shaderF16: false });
} catch (e) {
  why = (e as Error).message;
}
const gpuIt = backend ? it : process.env.TAPEGRAD_REQUIRE_WEBGPU === '1' ? it : it.skip;

gpuIt('a float16 tensor is a DeviceError naming the missing feature; float32 still works', async () => {
  if (!backend) throw new Error(`no WebGPU device: ${why}`);
  expect(backend.shaderF16).toBe(false);
  const h = tg.tensor([1, 2, 3], { dtype: 'float16' });
  expect(() => h.to('webgpu')).toThrow(tg.DeviceError);
  expect(() => h.to('webgpu')).toThrow(/float16 tensors need the WebGPU feature 'shader-f16' \(WGSL's f16\), which this device \(.*\) does not have/);
  expect(() => tg.ones([2], { device: 'webgpu' }).cast('float16')).toThrow(/'shader-f16'/);
  expect(Array.from(await tg.tensor([1, 2]).to('webgpu').mul(2).data())).toEqual([2, 4]);
});
