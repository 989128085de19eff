import { describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import '../src/index.js';

// add_, sub_, mul_ and div_ write straight into a contiguous destination on the CPU; every case
// must give what the out-of-place op gives, and the cases the direct path cannot take (strided
// destination, operands sharing storage, dtype or shape changes) must still be right.

const handle = (t: tg.Tensor) => t.kernelView().handle;
const OPS = ['add', 'sub', 'mul', 'div'] as const;
tg.manualSeed(11);

describe('binary ops in place', () => {
  const cases: [string, () => tg.Tensor, () => tg.Tensor | number][] = [
    ['same shape', () => tg.randn([6, 5]), () => tg.randn([6, 5])],
    ['row broadcast (a bias)', () => tg.randn([6, 5]), () => tg.randn([5])],
    ['column broadcast', () => tg.randn([6, 5]), () => tg.randn([6, 1])],
    ['number', () => tg.randn([6, 5]), () => 0.37],
    ['strided other', () => tg.randn([6, 5]), () => tg.randn([5, 6]).transpose(0, 1)],
    ['strided destination', () => tg.randn([5, 6]).transpose(0, 1), () => tg.randn([6, 5])],
    ['destination at an offset', () => tg.randn([8, 5]).slice(0, 2, 8), () => tg.randn([5])],
  ];
  for (const [name, mkDst, mkOther] of cases) {
    it(`${name}: equals the out-of-place op`, () => {
      for (const op of OPS) {
        const dst = mkDst(), other = mkOther();
        const want = dst[op](other).dataSync();
        const h = handle(dst);
        dst[`${op}_`](other);
        expect(handle(dst)).toBe(h);
        expect(dst.contiguous().dataSync()).toEqual(want);
      }
    });
  }

  it('an operand sharing the destination storage reads the old values', () => {
    const a = tg.arange(0, 12, 1, { dtype: 'float32' }).reshape([3, 4]);
    const flipped = a.transpose(0, 1).reshape([12]).reshape([4, 3]).transpose(0, 1); // same storage
    const want = a.add(flipped).dataSync();
    a.add_(flipped);
    expect(a.dataSync()).toEqual(want);
    const b = tg.arange(1, 5, 1, { dtype: 'float32' });
    b.mul_(b);
    expect(Array.from(b.dataSync())).toEqual([1, 4, 9, 16]);
  });

  it('refuses a result the destination dtype cannot hold (int32 += float), as torch', () => {
    const a = tg.tensor([1, 2, 3], { dtype: 'int32' });
    expect(() => a.add_(tg.tensor([0.5, 0.5, 0.5]))).toThrow(/add_: the result type float32 cannot be written in place into a int32 tensor/);
    expect(Array.from(a.dataSync())).toEqual([1, 2, 3]);
    a.add_(tg.tensor([1, 1, 1], { dtype: 'int32' }));
    expect(Array.from(a.dataSync())).toEqual([2, 3, 4]);
  });

  it('rejects an other that would change the destination shape', () => {
    expect(() => tg.zeros([3]).add_(tg.zeros([2, 3]))).toThrow(/add_: the result's shape \[2, 3\] \(broadcast of \[3\] and \[2, 3\]\) does not match the shape \[3\]/);
  });
});
