import { describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import '../src/index.js';

// The float32 contiguous fast paths (src/kernels/fast-f32.ts) must give exactly what the
// generic strided kernels give. A transposed-and-back copy of an operand has the same values but
// non-contiguous strides, which sends the op down the generic path: compare the two bit for bit.
tg.manualSeed(5);

/** The same values as `t`, laid out with stride 2 along the last dim so no fast path applies. */
function strided(t: tg.Tensor): tg.Tensor {
  if (t.ndim === 0) return t;
  return t.unsqueeze(-1).expand(...t.shape, 2).contiguous().narrow(-1, 0, 1).squeeze(-1);
}

const shapes: [number[], number[]][] = [
  [[7, 13], [7, 13]], // same shape
  [[7, 13], []], // scalar
  [[7, 13], [13]], // bias row
  [[3, 5, 4], [5, 4]], // trailing block
  [[3, 5, 4], [1, 5, 4]], // leading 1
  [[13], [7, 13]], // broadcast on the left (commutative ops swap)
  [[1], [1]],
];

describe('float32 fast paths agree with the generic kernels', () => {
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it(`${op} on same-shape, scalar, row and trailing broadcasts`, () => {
      for (const [sa, sb] of shapes) {
        const a = tg.randn(sa), b = tg.randn(sb).add(op === 'div' ? 3 : 0);
        const fast = tg[op](a, b).dataSync();
        const slow = tg[op](strided(a), strided(b)).dataSync();
        expect(Array.from(fast), `${op} ${sa} ${sb}`).toEqual(Array.from(slow));
      }
    });
  }
  for (const op of ['relu', 'neg', 'exp'] as const) {
    it(`${op}, NaN included`, () => {
      const a = tg.cat([tg.randn([40]), tg.tensor([Number.NaN, 0, -0])]);
      const fast = tg[op](a).dataSync();
      const slow = tg[op](strided(a)).dataSync();
      expect(Array.from(fast)).toEqual(Array.from(slow));
    });
  }
  it('copy_ into a contiguous tensor and into a strided view', () => {
    const src = tg.randn([6, 5]);
    const dst = tg.zeros([6, 5]);
    dst.copy_(src);
    expect(Array.from(dst.dataSync())).toEqual(Array.from(src.dataSync()));
    const wide = tg.zeros([6, 10]);
    wide.narrow(1, 2, 5).copy_(src);
    for (let i = 0; i < 6; i++) {
      expect(Array.from(wide.dataSync().subarray(i * 10 + 2, i * 10 + 7))).toEqual(Array.from(src.dataSync().subarray(i * 5, i * 5 + 5)));
      expect(wide.dataSync()[i * 10]).toBe(0);
    }
  });
  it('leaves other dtypes to the generic kernels', () => {
    const a = tg.tensor([1, 2, 3], { dtype: 'int32' }), b = tg.tensor([4, 5, 6], { dtype: 'int32' });
    expect(Array.from(tg.add(a, b).dataSync())).toEqual([5, 7, 9]);
    expect(tg.add(a, b).dtype).toBe('int32');
  });
});
