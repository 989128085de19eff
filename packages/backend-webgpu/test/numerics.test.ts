// Integer edge cases on the GPU (issue 15, bug 7): int32 arithmetic wraps as on the CPU and in
// PyTorch, and what the CPU refuses with an error (a float cast out of int32's range) fails at
// the next read with the CPU's error, where WGSL would saturate it silently.
import { expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { openDevice, parity } from './helpers.js';

const { gpuDescribe } = await openDevice();
const gpu = (t: tg.Tensor) => t.to('webgpu');
const big = () => tg.tensor([2147483647, -2147483648, 123456789, -987654321, 65537, 3], { dtype: 'int32' });

gpuDescribe('int32 on the GPU', () => {
  it('products wrap modulo 2^32 with the CPU\'s (and PyTorch\'s) bits', async () => {
    await parity('mul', (a, b) => a!.mul(b!), [big(), big().reshape(2, 3).T.reshape(6)]);
    await parity('square', (a) => a!.square(), [big()]);
    await parity('pow', (a, b) => a!.pow(b!), [big(), tg.tensor([2, 3, 5, 7, 31, 40], { dtype: 'int32' })]);
    await parity('matmul', (a, b) => a!.matmul(b!), [big().reshape(2, 3), big().reshape(3, 2)]);
  });

  it('a cast of a float out of int32\'s range fails at the next read with the CPU\'s error', async () => {
    const values = tg.tensor([1, 2, 3e9, 4]);
    expect(() => values.cast('int32')).toThrow(/^cast: value 3000000000 at index \[2\] cannot be converted to int32 without overflow/);
    await expect(gpu(values).cast('int32').data()).rejects.toThrow(
      new tg.ValueError('cast: value 3000000000 at index [2] cannot be converted to int32 without overflow (int32 holds -2147483648 to 2147483647; clamp it first)'),
    );
    await expect(gpu(tg.tensor([[0, NaN]])).T.cast('int32').data()).rejects.toThrow(/^cast: value NaN at index \[1, 0\]/);
    const dst = gpu(tg.zeros([2], { dtype: 'int32' }));
    dst.copy_(gpu(tg.tensor([-Infinity, 0])));
    await expect(dst.data()).rejects.toThrow(/^copy_: value -Infinity at index \[0\]/);
    // the ends float32 can hold pass, and fractions truncate toward zero
    await parity('cast in range', (x) => x!.cast('int32'), [tg.tensor([2147483520, -2147483648, 2.7, -2.7])]);
  });
});
