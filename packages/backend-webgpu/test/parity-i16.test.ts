// WebGPU against the CPU for issue 16's ops beyond the table rows parity.test.ts sweeps (every
// UNARY_OPS/BINARY_OPS row, sin..isfinite and atan2 included, over dtypes and layouts): special
// values and halfway cases, where with numbers, maskedFill(_), tril/triu and any/all, on random
// inputs of several shapes and layouts. Exact but for the float32 math (1e-6 + 1e-5·|x|).
import { beforeEach, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { layouts, openDevice, parity, values } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(16));

// ±0, ±Infinity, NaN, tiny (a subnormal too), huge, near multiples of π/2, halves
const SPECIAL = [
  0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-30, 1e-7, 3e38, -3e38, 1e30, 123456.789, -1e10, 1.5707963, 3.1415927, -4.712389, 1e5 * Math.PI,
  0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, 8388607.5, -4194303.5, 4194304.5, 0.84375, -0.9, 1, -1, -0.999, 3.9, 88.7, 89, -88, -17.6,
];

gpuDescribe('math ops at special values', () => {
  it('unary: ±0, infinities, NaN, tiny, huge, near multiples of π/2, halves', async () => {
    for (const op of ['sin', 'cos', 'erf', 'log1p', 'expm1', 'floor', 'ceil', 'round', 'isnan', 'isfinite'] as const) {
      await parity(`${op} special`, (x) => tg[op](x), [tg.tensor(SPECIAL)]);
    }
  });
  it('bool inputs of the floating ops and the tests', async () => {
    for (const op of ['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'sin', 'cos', 'erf', 'log1p', 'expm1', 'isnan', 'isfinite'] as const) {
      for (const { label, t } of layouts([3, 5], values('bool'))) await parity(`${op} bool ${label}`, (x) => tg[op](x), [t]);
    }
  });
  it('round: halves to even, then with decimals (a composite)', async () => {
    await parity('round halves', (x) => x.round(), [tg.arange(-20, 21).cast('float32').mul(0.5).add(0.25).sub(0.25)]);
    for (const { label, t } of layouts([5, 7], (s) => tg.randn(s).mul(100))) {
      await parity(`round decimals 2 ${label}`, (x) => x.round(2), [t]);
      await parity(`round decimals -1 ${label}`, (x) => tg.round(x, -1), [t]);
    }
  });
  it('atan2 over the signed zeros, infinities and NaN, and on random inputs', async () => {
    const z = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-30, 3e38];
    await parity('atan2 special', (y, x) => tg.atan2(y, x), [tg.tensor(z.flatMap((a) => z.map(() => a))), tg.tensor(z.flatMap(() => z))]);
    await parity('atan2 broadcast', (y, x) => y.atan2(x), [tg.randn([3, 1, 4]), tg.randn([5, 1])]);
  });
});

gpuDescribe('where with numbers', () => {
  it('numbers on either side or both, typed as torch types them', async () => {
    for (const { label, t } of layouts([3, 4], values('bool'))) {
      await parity(`where(c, 0, 1) ${label}`, (c) => tg.where(c, 0, 1), [t]);
      await parity(`where(c, 0.5, -1) ${label}`, (c) => tg.where(c, 0.5, -1), [t]);
      await parity(`where(c, true, false) ${label}`, (c) => tg.where(c, true, false), [t]);
      await parity(`x.where(c, -Infinity) ${label}`, (c, x) => x.where(c, -Infinity), [t, tg.randn([4])]);
      await parity(`int x.where(c, 0.5) ${label}`, (c, x) => x.where(c, 0.5), [t, tg.randint(-5, 5, [3, 4])]);
      await parity(`where(c, 2, x) ${label}`, (c, x) => tg.where(c, 2, x), [t, tg.randn([3, 1])]);
    }
  });
});

gpuDescribe('maskedFill', () => {
  it('broadcast masks, layouts, dtypes, a 0-d value tensor', async () => {
    for (const [shape, maskShape] of [[[3, 4], [3, 4]], [[2, 3, 4], [4]], [[5], [2, 5]], [[70, 9], [70, 1]]] as [number[], number[]][]) {
      for (const { label, t } of layouts(shape, values('float32'))) {
        await parity(`maskedFill ${label} mask ${JSON.stringify(maskShape)}`, (x, m) => x.maskedFill(m, -Infinity), [t, values('bool')(maskShape)]);
      }
    }
    await parity('maskedFill int', (x, m) => x.maskedFill(m, -2.7), [tg.randint(-9, 9, [4, 5]), values('bool')([5])]);
    await parity('maskedFill bool', (x, m) => x.maskedFill(m, 1), [values('bool')([4, 5]), values('bool')([4, 5])]);
    await parity('maskedFill value tensor', (x, m, v) => x.maskedFill(m, v), [tg.randn([3, 4]), values('bool')([3, 4]), tg.tensor(0.25)]);
  });
  it('in place, into a contiguous tensor and into a transposed view', async () => {
    await parity('maskedFill_', (x, m) => x.clone().maskedFill_(m, 3), [tg.randn([4, 5]), values('bool')([4, 5])]);
    await parity('maskedFill_ view', (x, m) => {
      const d = x.clone();
      d.T.maskedFill_(m, -1);
      return d;
    }, [tg.randn([4, 5]), values('bool')([4])]);
  });
});

gpuDescribe('tril and triu', () => {
  it('diagonals, batches, non-square matrices, layouts and dtypes', async () => {
    for (const op of ['tril', 'triu'] as const) {
      for (const shape of [[4, 4], [3, 5], [2, 3, 6, 2], [70, 9]]) {
        for (const dtype of ['float32', 'int32', 'bool'] as tg.DType[]) {
          for (const { label, t } of layouts(shape, values(dtype))) {
            for (const diagonal of [0, 1, -2, 100, -100]) await parity(`${op} ${dtype} ${label} diagonal ${diagonal}`, (x) => tg[op](x, diagonal), [t]);
          }
        }
      }
    }
  });
});

gpuDescribe('any and all', () => {
  const CASES: [number[], number | number[] | undefined][] = [[[6], undefined], [[3, 5], 1], [[3, 5], 0], [[4, 3, 70], -1], [[4, 3, 70], [0, 2]], [[2, 300], 1], [[2, 0, 3], 1], [[], undefined]];
  it('over dims, keepdim, layouts and dtypes, NaN counting as true', async () => {
    for (const op of ['any', 'all'] as const) {
      for (const [shape, dim] of CASES) {
        for (const dtype of ['float32', 'int32', 'bool'] as tg.DType[]) {
          // mostly zeros (any) or mostly ones (all), so lines of either answer occur
          const make = (s: number[]) => tg.rand(s).lt(op === 'any' ? 0.05 : 0.95).cast(dtype);
          for (const { label, t } of layouts(shape, make)) {
            for (const keepdim of [false, true]) await parity(`${op} ${dtype} ${label} dim=${JSON.stringify(dim)} keepdim=${keepdim}`, (x) => tg[op](x, dim, keepdim), [t]);
          }
        }
      }
      await parity(`${op} NaN`, (x) => tg[op](x, 1), [tg.tensor([[0, NaN, 0], [1, NaN, 1], [0, 0, 0]])]);
    }
  });
});
