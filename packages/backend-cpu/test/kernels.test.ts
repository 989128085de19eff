import { describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { lineBases, plan } from '../src/index.js';

// The CPU kernels on strided, broadcast and odd-sized inputs, against plain reference loops
// written here index by index.
tg.manualSeed(3);

/** Read element `idx` of a tensor through its strides, the slow obvious way. */
function at(t: tg.Tensor, idx: number[]): number {
  const h = t.kernelView().handle as tg.TypedArray;
  return h[t.offset + idx.reduce((s, i, d) => s + i * t.strides[d]!, 0)]!;
}
function indices(shape: number[]): number[][] {
  const out: number[][] = [[]];
  for (const n of shape) {
    const next: number[][] = [];
    for (const p of out) for (let i = 0; i < n; i++) next.push([...p, i]);
    out.splice(0, out.length, ...next);
  }
  return out;
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > tol * (1 + Math.abs(b[i]!))) expect.fail(`[${i}] ${a[i]} vs ${b[i]}`);
}

describe('iteration plans', () => {
  it('coalesce contiguous operands into one row', () => {
    const p = plan([4, 5, 6], [[30, 6, 1], [30, 6, 1]], [0, 0]);
    expect(p.rows).toBe(1);
    expect(p.inner).toBe(120);
  });
  it('keep rows where a broadcast operand breaks contiguity', () => {
    const p = plan([4, 5], [[5, 1], [0, 1]], [0, 0]);
    expect(p.rows).toBe(4);
    expect(Array.from(p.bases[0]!)).toEqual([0, 5, 10, 15]);
    expect(Array.from(p.bases[1]!)).toEqual([0, 0, 0, 0]);
  });
  it('lineBases walks any strides', () => {
    expect(Array.from(lineBases([2, 3], [1, 2], 10))).toEqual([10, 12, 14, 11, 13, 15]);
  });
});

describe('sum over dims whose innermost ones are contiguous (the bias gradient)', () => {
  // the kernel sums these as runs into four partial sums; the reference adds element by element
  // in float64, so the two differ only by float64 rounding
  const cases: [string, () => tg.Tensor, number[]][] = [
    ['[0, 2, 3] of NCHW', () => tg.randn([5, 3, 7, 9]), [0, 2, 3]],
    ['[0, 2, 3] at an offset', () => tg.randn([7, 3, 7, 9]).narrow(0, 2, 4), [0, 2, 3]],
    ['[0, 2, 3] with a size-1 dim', () => tg.randn([4, 3, 1, 11]), [0, 2, 3]],
    ['[0, 2, 3] of a sliced channel range', () => tg.randn([4, 6, 5, 5]).narrow(1, 1, 4), [0, 2, 3]],
    ['[1, 2, 3]', () => tg.randn([3, 4, 5, 2]), [1, 2, 3]],
    ['everything, float64', () => tg.randn([3, 4, 5, 2], { dtype: 'float64' }), [0, 1, 2, 3]],
    ['[0, 2, 3] of a transposed view (not a run)', () => tg.randn([4, 3, 9, 8]).transpose(2, 3), [0, 2, 3]],
  ];
  it.each(cases)('%s', (_, make, dims) => {
    const x = make();
    const keep = [0, 1, 2, 3].filter((d) => !dims.includes(d));
    const sums = new Map<string, number>();
    for (const idx of indices([...x.shape])) {
      const key = keep.map((d) => idx[d]).join(',');
      sums.set(key, (sums.get(key) ?? 0) + at(x, idx));
    }
    close(x.sum(dims).dataSync(), [...sums.values()], x.dtype === 'float32' ? 1e-6 : 1e-12);
  });
});

describe('sum over the leading dims of a dense tensor (a Linear bias gradient)', () => {
  // column sums row by row add in the same order as one line at a time: the same bits as a
  // float64 loop down each column, rounded once to the dtype
  const cases: [string, () => tg.Tensor, number][] = [
    ['[0] of [64, 128]', () => tg.randn([64, 128]), 1],
    ['[0, 1] of [4, 5, 6]', () => tg.randn([4, 5, 6]), 2],
    ['[0] at an offset', () => tg.randn([9, 7]).narrow(0, 3, 5), 1],
    ['[0] with a size-1 kept dim', () => tg.randn([6, 1, 4]), 1],
    ['[0] of float64', () => tg.randn([33, 10], { dtype: 'float64' }), 1],
    ['[0] of int32', () => tg.randint(-50, 50, [12, 5]), 1],
  ];
  it.each(cases)('%s', (_, make, lead) => {
    const x = make();
    const dims = Array.from({ length: lead }, (_, i) => i);
    const rows = x.shape.slice(0, lead).reduce((p, d) => p * d, 1), cols = x.size / rows;
    const flat = Array.from(x.contiguous().dataSync());
    const ref = Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += flat[r * cols + j]!;
      return s;
    });
    const want = Array.from(tg.tensor(ref, { dtype: x.dtype === 'int32' ? 'int32' : x.dtype }).dataSync());
    expect(Array.from(x.sum(dims).dataSync())).toEqual(want);
    expect(x.sum(dims).shape).toEqual(x.shape.slice(lead));
  });
});

describe('kernels on strided inputs match reference loops', () => {
  const cases: [string, () => tg.Tensor][] = [
    ['contiguous', () => tg.randn([3, 4, 5])],
    ['transposed', () => tg.randn([5, 4, 3]).permute(2, 1, 0)],
    ['sliced with step', () => tg.randn([3, 9, 5]).slice(1, 1, 9, 2)],
    ['expanded', () => tg.randn([1, 4, 1]).expand(3, 4, 5)],
    ['contiguous at an offset', () => tg.randn([5, 4, 5]).narrow(0, 1, 3)],
  ];
  for (const [name, make] of cases) {
    it(`elementwise and copy: ${name}`, () => {
      const x = make();
      const y = tg.randn([4, 1]);
      const out = tg.add(x, y).mul(x).exp();
      const ref = indices([...x.shape]).map(([i, j, k]) => Math.exp((at(x, [i!, j!, k!]) + at(y, [j!, 0])) * at(x, [i!, j!, k!])));
      close(out.dataSync(), ref);
      close(x.contiguous().dataSync(), indices([...x.shape]).map((idx) => at(x, idx)));
    });
    it(`reductions over every dim set: ${name}`, () => {
      const x = make();
      for (const dims of [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]]) {
        const keep = [0, 1, 2].filter((d) => !dims.includes(d));
        const groups = new Map<string, number[]>();
        for (const idx of indices([...x.shape])) {
          const key = keep.map((d) => idx[d]).join(',');
          groups.set(key, [...(groups.get(key) ?? []), at(x, idx)]);
        }
        const vals = [...groups.values()];
        close(x.sum(dims).dataSync(), vals.map((v) => v.reduce((a, b) => a + b, 0)));
        close(x.max(dims).dataSync(), vals.map((v) => Math.max(...v)));
        close(x.min(dims).dataSync(), vals.map((v) => Math.min(...v)));
      }
      const am = x.argmax(1).dataSync();
      indices([x.shape[0]!, x.shape[2]!]).forEach(([i, k], n) => {
        const row = Array.from({ length: x.shape[1]! }, (_, j) => at(x, [i!, j, k!]));
        expect(am[n]).toBe(row.indexOf(Math.max(...row)));
      });
    });
    it(`indexSelect along every dim: ${name}`, () => {
      const x = make();
      for (let dim = 0; dim < 3; dim++) {
        const picks = [x.shape[dim]! - 1, 0, x.shape[dim]! - 1];
        const out = x.indexSelect(dim, tg.tensor(picks, { dtype: 'int32' }));
        const ref = indices([...out.shape]).map((idx) => at(x, idx.map((v, d) => (d === dim ? picks[v]! : v))));
        expect(Array.from(out.dataSync())).toEqual(ref);
      }
    });
    it(`softmax along a middle dim: ${name}`, () => {
      const x = make();
      const s = x.softmax(1);
      const ref = indices([...x.shape]).map(([i, j, k]) => {
        const row = Array.from({ length: x.shape[1]! }, (_, jj) => at(x, [i!, jj, k!]));
        const m = Math.max(...row);
        return Math.exp(at(x, [i!, j!, k!]) - m) / row.reduce((a, v) => a + Math.exp(v - m), 0);
      });
      close(s.dataSync(), ref);
    });
  }
  it('matmul over odd sizes, transposes and broadcast batches', () => {
    for (const [m, k, n] of [[1, 1, 1], [3, 17, 5], [7, 4, 65], [33, 9, 2]] as const) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = ta ? tg.randn([2, k, m]).transpose(-1, -2) : tg.randn([2, m, k]);
        const b = tb ? tg.randn([n, k]).T : tg.randn([k, n]);
        const c = a.matmul(b);
        expect(c.shape).toEqual([2, m, n]);
        const ref = indices([2, m, n]).map(([bi, i, j]) => {
          let s = 0;
          for (let p = 0; p < k; p++) s += at(a, [bi!, i!, p]) * at(b, [p, j!]);
          return s;
        });
        close(c.dataSync(), ref);
      }
    }
  });
  it('int32 arithmetic wraps and casts truncate toward zero', () => {
    const big = tg.tensor([2147483647], { dtype: 'int32' });
    expect(Array.from(big.add(1).dataSync())).toEqual([-2147483648]);
    expect(Array.from(tg.tensor([2.7, -2.7, 0.5]).cast('int32').dataSync())).toEqual([2, -2, 0]);
    expect(Array.from(tg.tensor([0, -0.5, NaN]).cast('bool').dataSync())).toEqual([0, 1, 1]);
  });
});
