// Integer edge cases on the GPU (issue 15, bug 7): int32 arithmetic wraps as on the CPU and in
// PyTorch, and what the CPU refuses with an error (a float cast out of int32's range, an int
// sum int32 cannot hold) fails at the next read with the CPU's error, where WGSL would saturate
// or wrap silently. And reductions of broadcast views skip the broadcast dims (bug 8).
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

gpuDescribe('sums of ints and bools on the GPU', () => {
  const i32 = (data: number[], shape?: number[]) => tg.tensor(data, { dtype: 'int32', shape });
  it('accumulate exactly: a sum that fits is right however its partial sums wander', async () => {
    const wander = Array.from({ length: 1000 }, (_, k) => (k % 2 ? -2147483648 : 2147483647)); // partial sums leave int32 on every step
    await parity('short line', (x) => x!.sum(), [i32([2147483647, 1, -5])]);
    await parity('long lines', (x) => x!.sum(1), [i32([...wander, ...wander.map((v) => -v - 1)], [2, 1000])]);
    await parity('bool', (x) => x!.sum(0), [tg.randint(0, 2, [700, 3]).cast('bool')]);
  });
  it('a sum int32 cannot hold fails at the next read, naming where, as the CPU', async () => {
    const x = i32([1, 2 ** 30, 2, 2 ** 30, 2 ** 30, 2 ** 30], [3, 2]);
    expect(() => x.sum(0)).toThrow(/^sum: the sum 3221225472 at output index \[1\] does not fit in int32/);
    await expect(gpu(x).sum(0).data()).rejects.toThrow(
      new tg.ValueError('sum: the sum at output index [1] does not fit in int32, the dtype tapegrad sums integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first'),
    );
    const long = Array.from({ length: 600 }, () => 2 ** 22); // 600·2^22 > 2^31: through the workgroup tree
    await expect(gpu(i32(long)).sum().data()).rejects.toThrow(/^sum: the sum does not fit in int32/);
  });
  it('over broadcast views of up to 2^40 elements, by the broadcast count, exactly', async () => {
    const n = 2 ** 31;
    const viewSum = async (v: number, size: number) => gpu(i32([v])).expand([size]).sum().item();
    expect(await viewSum(-1, n)).toBe(-2147483648); // the very end of int32
    expect(await viewSum(3, 2 ** 29)).toBe(1610612736);
    expect(await viewSum(0, 2 ** 40)).toBe(0);
    await expect(viewSum(1, n)).rejects.toThrow(/^sum: the sum does not fit in int32/);
    await expect(viewSum(-1, n + 1)).rejects.toThrow(/^sum: the sum does not fit in int32/);
    await expect(viewSum(1, 2 ** 40)).rejects.toThrow(/^sum: the sum does not fit in int32/);
    const rows = gpu(tg.tensor([[1, -2], [3, 4]], { dtype: 'int32' }));
    expect(Array.from(await rows.unsqueeze(1).expand([2, 2 ** 28, 2]).sum([1, 2]).data())).toEqual([-(2 ** 28), 7 * 2 ** 28]);
  });
});

gpuDescribe('float reductions over broadcast views on the GPU', () => {
  it('skip the broadcast dims: 2^31 ones sum to exactly 2^31, as in PyTorch', async () => {
    const x = gpu(tg.ones([1])).expand([2 ** 31]);
    expect(await x.sum().item()).toBe(2147483648);
    expect(await x.mean().item()).toBe(1);
    expect(await x.max().item()).toBe(1);
    expect(await x.min().item()).toBe(1);
    const rows = gpu(tg.tensor([[0.5], [-2], [NaN]])).expand([3, 2 ** 30]);
    const sums = await rows.sum(1).data();
    expect([sums[0], sums[1], Number.isNaN(sums[2])]).toEqual([2 ** 29, -(2 ** 31), true]);
    expect(Array.from(await rows.max(1).data()).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([0.5, -2, 'NaN']);
  });
});
