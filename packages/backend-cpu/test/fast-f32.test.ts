import { describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { afterAll } from 'vitest';
import { cpuKernelInfo, setCpuKernelOptions } from '../src/index.js';

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
  for (const op of ['relu', 'neg', 'exp', 'sigmoid', 'tanh'] as const) {
    it(`${op}, NaN included`, () => {
      const a = tg.cat([tg.randn([40]), tg.tensor([Number.NaN, 0, -0])]);
      const fast = tg[op](a).dataSync();
      const slow = tg[op](strided(a)).dataSync();
      expect(Array.from(fast)).toEqual(Array.from(slow));
    });
  }
  it('float32 sigmoid and tanh (from fastExp) are within an ulp of float64 rounded, special values exact', () => {
    const xs = [0, -0, 1e-30, -1e-8, 1e-4, 0.0999, 0.1, -0.1001, 0.5, -1, 2.5, -7, 9, 17, -30, 50, 88, -88, 104, -200, Infinity, -Infinity, NaN];
    for (let i = 0; i < 2000; i++) xs.push((i - 1000) / 97, ((i % 7) - 3) * 10 ** ((i % 13) - 10));
    const x32 = tg.tensor(xs), x64 = tg.tensor(Float64Array.from(Float32Array.from(xs)), { dtype: 'float64' }); // the same inputs
    for (const op of ['sigmoid', 'tanh'] as const) {
      const got = tg[op](x32).dataSync(), want = Float32Array.from(tg[op](x64).dataSync());
      want.forEach((w, i) => {
        const g = got[i]!;
        if (Number.isNaN(w) || !Number.isFinite(w) || w === 0) return expect(Object.is(g, w), `${op}(${xs[i]}) = ${g}, expected ${w}`).toBe(true);
        const ulp = Math.abs(Math.fround(w * (1 + 2 ** -23)) - w) || 2 ** -149;
        expect(Math.abs(g - w), `${op}(${xs[i]}) = ${g}, float64 gives ${w}`).toBeLessThanOrEqual(ulp);
      });
    }
  });
  it('sub with a scalar on the left (1 − y)', () => {
    const a = tg.randn([7, 13]), one = tg.tensor(1);
    expect(Array.from(tg.sub(one, a).dataSync())).toEqual(Array.from(tg.sub(one, strided(a)).dataSync()));
  });
  // views whose rows are contiguous but spaced apart (narrow or split of the last dim) go row by row
  it('unary and binary ops on row views of a wider tensor, and on rows broadcast from one', () => {
    const wide = tg.randn([2, 5, 48]);
    const views = [wide.narrow(2, 3, 20), wide.narrow(2, 28, 20), wide.narrow(1, 1, 3).narrow(2, 10, 20)];
    for (const op of ['relu', 'neg', 'exp', 'sigmoid', 'tanh'] as const) {
      for (const v of views) expect(Array.from(tg[op](v).dataSync()), `${op} ${v.shape}`).toEqual(Array.from(tg[op](strided(v)).dataSync()));
    }
    const [a, b] = [views[0]!, views[1]!];
    const rowBroadcast = tg.randn([1, 1, 20]).expand(2, 5, 20);
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      for (const [x, y] of [[a, b], [a, b.contiguous()], [a.contiguous(), b], [a, rowBroadcast]] as const) {
        expect(Array.from(tg[op](x, y).dataSync()), `${op}`).toEqual(Array.from(tg[op](strided(x), strided(y)).dataSync()));
      }
    }
  });
  it('cat copies contiguous inputs in blocks, and strided or other-dtype ones element by element', () => {
    const parts = [tg.randn([3, 2, 4]), tg.randn([3, 5, 4]), tg.randn([3, 1, 4])];
    for (const dim of [0, 1, 2]) {
      const ps = dim === 1 ? parts : parts.map(() => tg.randn([3, 2, 4]));
      const fast = tg.cat(ps, dim).dataSync();
      expect(Array.from(fast), `dim ${dim}`).toEqual(Array.from(tg.cat(ps.map(strided), dim).dataSync()));
    }
    const mixed = tg.cat([tg.tensor([[1, 2]], { dtype: 'int32' }), tg.tensor([[0.5, 1.5]])], 0);
    expect(mixed.dtype).toBe('float32');
    expect(Array.from(mixed.dataSync())).toEqual([1, 2, 0.5, 1.5]);
  });
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

// Where every operand lives in the WebAssembly memory (float32 storage does, when the memory is
// shared), wasm/elementwise.wat runs instead of the JavaScript loops: same bits, on lengths and
// rows that are and are not multiples of the 4-lane vectors, with NaN and signed zeros.
describe.skipIf(!cpuKernelInfo().sharedMemoryAvailable)('WebAssembly elementwise kernels agree with the JavaScript loops (needs SharedArrayBuffer)', () => {
  const initial = cpuKernelInfo();
  afterAll(() => setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory }));
  const inWasm = (t: tg.Tensor) => (t.kernelView().handle as tg.TypedArray).buffer instanceof SharedArrayBuffer;
  /** Values of f's result computed on operands in the memory, and on plain-array copies of them. */
  function both(make: () => tg.Tensor[], f: (...ts: tg.Tensor[]) => tg.Tensor): [number[], number[]] {
    setCpuKernelOptions({ simd: 'simd', sharedMemory: true });
    const inputs = make();
    const host = inputs.map((t) => ({ data: t.dataSync(), shape: t.shape }));
    for (const t of inputs) expect(inWasm(t)).toBe(t.dtype === 'float32' || t.dtype === 'bool');
    const wasm = f(...inputs).dataSync();
    setCpuKernelOptions({ sharedMemory: false });
    const plain = host.map(({ data, shape }, i) => tg.fromArray(data, shape, inputs[i]!.dtype));
    for (const t of plain) expect(inWasm(t)).toBe(false);
    return [Array.from(wasm), Array.from(f(...plain).dataSync())];
  }
  const special = [Number.NaN, 0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-40];
  const withSpecial = (shape: number[]) => () => {
    const t = tg.randn(shape);
    const h = t.kernelView().handle as Float32Array;
    special.forEach((v, i) => (h[(i * 7) % h.length] = v));
    return t;
  };
  const cases: [number[], number[]][] = [
    [[64], [64]], [[9, 23], [9, 23]], [[9, 23], []], [[9, 23], [23]], [[5, 16], [16]], [[67], []], [[4, 5, 7], [5, 7]], [[13], [9, 13]],
  ];
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it(`${op}`, () => {
      for (const [sa, sb] of cases) {
        const [wasm, plain] = both(() => [withSpecial(sa)(), withSpecial(sb)()], (a, b) => tg[op](a!, b!));
        expect(wasm, `${op} ${sa} ${sb}`).toEqual(plain);
      }
    });
    it(`${op}_ in place`, () => {
      const [wasm, plain] = both(() => [withSpecial([9, 23])(), withSpecial([23])()], (a, b) => a![`${op}_`](b!));
      expect(wasm).toEqual(plain);
    });
  }
  it('relu', () => {
    for (const shape of [[64], [67], [9, 23]]) {
      const [wasm, plain] = both(() => [withSpecial(shape)()], (a) => tg.relu(a!));
      expect(wasm).toEqual(plain);
      expect(wasm.some(Number.isNaN)).toBe(true);
    }
  });
  it("gt against a scalar, and where(mask, x, scalar): relu's gradient", () => {
    for (const n of [64, 67, 9 * 23, 16 * 5 + 15]) {
      const [gtW, gtP] = both(() => [withSpecial([n])()], (a) => tg.gt(a!, 0));
      expect(gtW).toEqual(gtP);
      expect(new Set(gtW)).toEqual(new Set([0, 1]));
      const [wW, wP] = both(() => [withSpecial([n])().gt(0.3), withSpecial([n])()], (c, x) => tg.where(c!, x!, -2.5));
      expect(wW).toEqual(wP);
      // against values written out here
      setCpuKernelOptions({ simd: 'simd', sharedMemory: true });
      const x = withSpecial([n])();
      const xs = Array.from(x.dataSync());
      expect(Array.from(tg.gt(x, 0).dataSync())).toEqual(xs.map((v) => (v > 0 ? 1 : 0)));
      expect(Array.from(tg.where(tg.gt(x, 0), x, 0).dataSync())).toEqual(xs.map((v) => (v > 0 ? v : 0)));
      // a scalar of another dtype (here the int32 0 beside a bool mask, as relu's gradient makes)
      const [iW, iP] = both(() => [withSpecial([n])().gt(0), withSpecial([n])(), tg.tensor(3, { dtype: 'int32' })], (c, x, y) => tg.where(c!, x!, y!));
      expect(iW).toEqual(iP);
    }
  });
  it('reused storage reads as zeros', () => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory: true });
    tg.full([300], 5).dispose();
    expect(new Set(tg.zeros([300]).dataSync())).toEqual(new Set([0]));
  });
});
