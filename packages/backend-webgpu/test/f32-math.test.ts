// The float32 math of the WebGPU kernels (src/kernels/f32-math.ts: sin, cos, erf, log1p, expm1,
// atan2 written from exact arithmetic, since WGSL has no erf and specifies sin, cos and atan2
// loosely) against the CPU's float64 values of the same float32 inputs, in ulps of the float32
// result, over inputs spread across every exponent where each function has work to do (sin and
// cos up to 3.4e38, through the integer range reduction) and dense where its approximations
// meet. Bounds: the errors measured on lavapipe (in f32-math.ts) plus a margin for devices that
// fuse multiply-adds. A NaN where the CPU has a number counts as an infinite error.
import { expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { openDevice } from './helpers.js';

const { gpuDescribe } = await openDevice();
const N = 1 << 18;

/** The distance between float32s around v (the spacing of the binade v is in). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 23);
}

/** Seeded float32 inputs: half with uniformly random exponents in [minExp, maxExp], half uniform in [a, b]. */
function inputs(seed: number, minExp: number, maxExp: number, a: number, b: number, signs: 'both' | 'positive' | 'negative' = 'both'): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const x = new Float32Array(N);
  const bits = new Uint32Array(x.buffer);
  for (let i = 0; i < N / 2; i++) {
    const e = minExp + Math.floor(next() * (maxExp - minExp + 1));
    const sign = signs === 'negative' || (signs === 'both' && next() < 0.5) ? 0x80000000 : 0;
    bits[i] = (sign | ((e + 127) << 23) | Math.floor(next() * 2 ** 23)) >>> 0;
  }
  for (let i = N / 2; i < N; i++) x[i] = a + (b - a) * next();
  return x;
}

async function maxUlp(f: (...xs: tg.Tensor[]) => tg.Tensor, xs: Float32Array[]): Promise<{ ulps: number; at: number[] }> {
  const expected = f(...xs.map((x) => tg.tensor(Float64Array.from(x), { dtype: 'float64' }))).dataSync();
  const actual = await f(...xs.map((x) => tg.tensor(x).to('webgpu'))).data();
  let ulps = 0;
  let at: number[] = [];
  for (let i = 0; i < N; i++) {
    const e = expected[i]!, a = actual[i]!;
    const r = Math.fround(e);
    if (Number.isNaN(e) || !Number.isFinite(r)) {
      if (!(Object.is(r, a) || (Number.isNaN(e) && Number.isNaN(a)))) return { ulps: Infinity, at: xs.map((x) => x[i]!) };
      continue;
    }
    const d = Number.isNaN(a) ? Infinity : Math.abs(a - e) / ulp32(e);
    if (d > ulps) [ulps, at] = [d, xs.map((x) => x[i]!)];
  }
  return { ulps, at };
}

const CASES: [string, (...xs: tg.Tensor[]) => tg.Tensor, () => Float32Array[], number][] = [
  ['sin', tg.sin, () => [inputs(1, -30, 127, -20, 20)], 2],
  ['cos', tg.cos, () => [inputs(2, -30, 127, -20, 20)], 2],
  ['erf', tg.erf, () => [inputs(3, -30, 3, -4, 4)], 2],
  ['log1p of x > -1/2', tg.log1p, () => [inputs(4, -30, 127, -0.5, 3)], 2],
  ['log1p of x in (-1, -1/2]', tg.log1p, () => [inputs(5, -30, -1, -1, -0.5, 'negative').map((v) => Math.max(v, -0.99999994))], 2],
  ['expm1', tg.expm1, () => [inputs(6, -30, 6, -20, 89)], 2],
  ['atan2', tg.atan2, () => [inputs(7, -30, 127, -10, 10), inputs(8, -30, 127, -10, 10)], 3],
];

gpuDescribe('float32 math within a few ulps of float64', () => {
  for (const [name, f, xs, bound] of CASES) {
    it(`${name}: within ${bound} ulp`, async () => {
      const { ulps, at } = await maxUlp(f, xs());
      expect(ulps, `${name}: ${ulps.toFixed(3)} ulp at ${at.join(', ')}`).toBeLessThanOrEqual(bound);
    });
  }
});
