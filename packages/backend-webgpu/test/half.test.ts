// float16 on WebGPU against float16 on the CPU (issue 18). Both compute in float32 and round once
// per op to float16, so the results are the same bits wherever both devices compute the same
// float32 value: storage, casts, data movement, indexing, comparisons and + - * / are bit-exact.
// Elsewhere the float32 values differ a little and, rounded to float16, occasionally land one
// half ulp apart: transcendental functions (the GPU's f32 exp/log/tanh against the CPU's float64
// ones rounded to float32) and sums in another order (reductions, matmul, conv, softmax, losses,
// which accumulate in f32 on the GPU and in float64 or f32 on the CPU). The tolerances below say
// which; `worst` collects the largest distance measured per family (printed at the end).
// Measured on lavapipe over all 65,536 inputs: neg, abs, sqrt, relu, sign, square, floor, ceil,
// round and tapegrad's own sin, cos, erf, log1p, expm1 give the CPU's bits for every input; exp
// (6 inputs), log (2), sigmoid (8) and tanh (2,074: WGSL's tanh is the least accurate) are one
// half ulp off on the inputs named.
import { afterAll, beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from '@tapegrad/tensor';
import { layouts, openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(18));

const isNaNBits = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
/** Distance in float16 ulps (±0 are 0 apart; NaN is 0 from NaN and infinitely far from numbers). */
function ulps(a: number, b: number): number {
  if (isNaNBits(a) || isNaNBits(b)) return isNaNBits(a) && isNaNBits(b) ? 0 : Infinity;
  const ord = (h: number) => (h & 0x8000 ? -(h & 0x7fff) : h);
  return Math.abs(ord(a) - ord(b));
}

/**
 * How far a result may be from the CPU's. float16 results: `ulps` half ulps, or (for sums that
 * cancel) `atol` absolute; 0 ulps means the same bits (NaNs: both NaN, their payloads may differ:
 * arithmetic NaNs are the engine's). Other dtypes: `atol` + `rtol`·|x| (exact for ints and bools).
 */
interface HalfTol {
  ulps?: number;
  atol?: number;
  rtol?: number;
}
/** Per family: the largest distance in ulps within the ulp bound, and the largest absolute one beyond it (allowed by atol). */
const worst = new Map<string, { ulps: number; abs: number }>();

/** Compare a GPU result with the CPU's; returns the largest float16 distance in ulps. */
async function expectSame(what: string, family: string, actual: tg.Tensor, expected: tg.Tensor, tol: HalfTol = {}): Promise<void> {
  expect(actual.device, what).toBe('webgpu');
  expect(actual.shape, what).toEqual(expected.shape);
  expect(actual.dtype, what).toBe(expected.dtype);
  const { ulps: maxUlps = 0, atol = 0, rtol = 0 } = tol;
  if (expected.dtype === 'float16') {
    const a = (await actual.rawData()) as Uint16Array;
    const e = expected.rawDataSync() as Uint16Array;
    const av = await actual.data();
    const ev = expected.dataSync();
    const w = worst.get(family) ?? { ulps: 0, abs: 0 };
    for (let i = 0; i < e.length; i++) {
      const d = maxUlps === 0 && !isNaNBits(e[i]!) ? (a[i] === e[i] ? 0 : Infinity) : ulps(a[i]!, e[i]!);
      if (d <= maxUlps) w.ulps = Math.max(w.ulps, d);
      else if (Math.abs(av[i]! - ev[i]!) <= atol) w.abs = Math.max(w.abs, Math.abs(av[i]! - ev[i]!));
      else expect.fail(`${what}[${i}]: got 0x${a[i]!.toString(16)} (${av[i]}), the CPU 0x${e[i]!.toString(16)} (${ev[i]}): ${d} ulps`);
    }
    worst.set(family, w);
    return;
  }
  const a = await actual.data();
  const e = expected.dataSync();
  for (let i = 0; i < e.length; i++) {
    const ok = Number.isNaN(e[i]!) ? Number.isNaN(a[i]!) : a[i] === e[i] || Math.abs(a[i]! - e[i]!) <= atol + rtol * Math.abs(e[i]!);
    if (!ok) expect.fail(`${what}[${i}]: got ${a[i]}, the CPU ${e[i]}`);
  }
}

/** Run `fn` on the CPU inputs and on GPU copies of them, and compare. */
async function parity(what: string, family: string, fn: (...xs: tg.Tensor[]) => tg.Tensor, inputs: tg.Tensor[], tol?: HalfTol): Promise<void> {
  const expected = fn(...inputs);
  const actual = fn(...inputs.map((t) => t.to('webgpu')));
  await expectSame(what, family, actual, expected, tol);
}

/**
 * `parity` for a differentiable `fn`: the forward, then (backward with one random float16
 * upstream gradient) the gradient of each input in `grads`.
 */
async function gradParity(what: string, family: string, fn: (...xs: tg.Tensor[]) => tg.Tensor, inputs: tg.Tensor[], grads: number[], tol: HalfTol, gradTol = tol): Promise<void> {
  const cpu = inputs.map((t, i) => (grads.includes(i) ? t.clone().requiresGrad_() : t));
  const gpu = inputs.map((t, i) => (grads.includes(i) ? t.to('webgpu').requiresGrad_() : t.to('webgpu')));
  const expected = fn(...cpu);
  const actual = fn(...gpu);
  await expectSame(`${what} forward`, family, actual, expected, tol);
  const up = tg.randn(expected.shape).to(expected.dtype);
  expected.backward(up);
  actual.backward(up.to('webgpu'));
  for (const i of grads) await expectSame(`${what} grad of input ${i}`, family, gpu[i]!.grad!, cpu[i]!.grad!, gradTol);
}

const half = (shape: number[], scale = 2) => tg.randn(shape).mul(scale).to('float16');
const halfValues = (scale = 2, positive = false) => (shape: number[]) => (positive ? tg.rand(shape).add(0.1).mul(scale) : tg.randn(shape).mul(scale)).to('float16');
/** Every float16 bit pattern. */
const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);
const fromBits = (bits: Uint16Array, shape = [bits.length]) => tg.fromArray(bits, shape, 'float16');

afterAll(() => {
  const text = [...worst].map(([f, w]) => `${f} ${w.ulps}${w.abs ? ` (and ${w.abs.toExponential(1)} absolute beyond it)` : ''}`);
  if (text.length) console.log(`float16 WebGPU vs CPU, largest distances in half ulps: ${text.join(', ')}`);
});

gpuDescribe('float16 storage', () => {
  it('the device has shader-f16 (lavapipe reports it)', () => {
    expect(backend!.shaderF16).toBe(true);
  });

  it("every bit pattern goes to('webgpu') and back unchanged, NaN payloads, infinities and subnormals included", async () => {
    const back = (await tg.toAsync(fromBits(ALL).to('webgpu'), 'cpu')).rawDataSync();
    expect(back).toEqual(ALL);
    // odd lengths (the buffer is padded to whole words) and a single element
    for (const n of [1, 3, 5, 1001]) expect(await fromBits(ALL.subarray(30000, 30000 + n)).to('webgpu').rawData()).toEqual(ALL.subarray(30000, 30000 + n));
  });

  it('views with offsets and strides read and write the right halves', async () => {
    const cpu = fromBits(ALL.subarray(15000, 15000 + 7 * 9), [7, 9]);
    const gpu = cpu.to('webgpu');
    for (const [what, f] of [
      ['odd offset slice', (t: tg.Tensor) => t.slice(1, 3, 8)],
      ['strided rows', (t: tg.Tensor) => t.slice(0, 1, undefined, 2)],
      ['transpose', (t: tg.Tensor) => t.transpose(0, 1)],
      ['row 5', (t: tg.Tensor) => t.select(0, 5)],
    ] as const) {
      expect(await f(gpu).contiguous().rawData(), what).toEqual(f(cpu).contiguous().rawDataSync());
      // a non-contiguous CPU view moved to the GPU
      expect(await f(cpu).to('webgpu').rawData(), what).toEqual(f(cpu).contiguous().rawDataSync());
    }
    // writes into a view leave the neighbouring halves of each word as they were
    const src = half([7, 2]);
    const target = fromBits(ALL.subarray(40000, 40000 + 63), [7, 9]).to('webgpu');
    target.slice(1, 2, 7, 3).copy_(src.to('webgpu'));
    const want = fromBits(ALL.subarray(40000, 40000 + 63), [7, 9]);
    want.slice(1, 2, 7, 3).copy_(src);
    expect(await target.rawData()).toEqual(want.rawDataSync());
  });

  it('bfloat16 is refused with the reason', () => {
    expect(() => tg.zeros([2], { dtype: 'bfloat16' }).to('webgpu')).toThrow(/bfloat16 .*WGSL has no bfloat16/);
  });
});

gpuDescribe('float16 casts', () => {
  it('float16 to float32 is exact for all 65,536 patterns', async () => {
    await parity('float16 to float32', 'casts', (x) => x.to('float32'), [fromBits(ALL)]);
  });

  it('float32 to float16 rounds to nearest even as the CPU: ties, subnormals, overflow, NaN, -0', async () => {
    const hard = [0, -0, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -30, 65504, 65519.99, 65520, -65520, 1e10, Infinity, -Infinity, NaN,
      2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -24, 2 ** -25, 2 ** -25 + 2 ** -40, 3 * 2 ** -25, 2 ** -26, 1e-10, -5.9604645e-8, 0.1, 1 / 3, 2 ** -15 + 2 ** -25];
    await parity('hard float32 values to float16', 'casts', (x) => x.to('float16'), [tg.tensor(hard)]);
    // random float32 bit patterns over every exponent
    const bits = new Uint32Array(20000);
    for (let i = 0; i < bits.length; i++) bits[i] = (Math.random() * 2 ** 32) >>> 0;
    await parity('random float32 patterns to float16', 'casts', (x) => x.to('float16'), [tg.fromArray(new Float32Array(bits.buffer), [bits.length], 'float32')]);
  });

  it('int32 and bool to float16 and back (out-of-range values are the same error)', async () => {
    const ints = tg.tensor([0, 1, -1, 2047, 2049, 4097, 65504, 65519, 65520, 70000, -70000, 2 ** 24 + 1, 2 ** 31 - 1, -(2 ** 31)], { dtype: 'int32' });
    await parity('int32 to float16', 'casts', (x) => x.to('float16'), [ints]);
    await parity('bool to float16', 'casts', (x) => x.to('float16'), [tg.tensor([true, false, true])]);
    const finite = fromBits(ALL.filter((h) => (h & 0x7c00) !== 0x7c00));
    await parity('float16 to int32', 'casts', (x) => x.to('int32'), [finite]);
    await parity('float16 to bool', 'casts', (x) => x.to('bool'), [fromBits(ALL)]);
    const inf = fromBits(Uint16Array.of(0x3c00, 0x7c00)).to('webgpu');
    await expect(inf.to('int32').data()).rejects.toThrow(/cast: value Infinity at index \[1\] cannot be converted to int32/);
  });
});

gpuDescribe('float16 elementwise', () => {
  const SHAPES = [[], [7], [3, 5], [70, 9]];
  const POSITIVE = new Set(['log', 'sqrt', 'log1p']);
  // results computed by functions that the GPU evaluates in f32 and the CPU in float64
  const APPROXIMATE = new Set(['exp', 'log', 'tanh', 'sigmoid', 'sqrt', 'sin', 'cos', 'erf', 'log1p', 'expm1', 'pow', 'atan2']);
  it.each(UNARY_OPS.map((op) => [op]))('%s in every layout', async (op) => {
    const tol = { ulps: APPROXIMATE.has(op) ? 1 : 0 };
    for (const shape of SHAPES) {
      for (const { label, t } of layouts(shape, halfValues(2, POSITIVE.has(op)))) {
        await parity(`${op} ${label}`, APPROXIMATE.has(op) ? 'transcendental' : 'elementwise', (x) => tg[op](x), [t], tol);
      }
    }
    const special = fromBits(Uint16Array.of(0x7c00, 0xfc00, 0x7e00, 0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff, 0x3c00, 0x3800, 0xb800));
    await parity(`${op} of specials`, APPROXIMATE.has(op) ? 'transcendental' : 'elementwise', (x) => tg[op](x), [special], tol);
  });

  it('every unary op over all 65,536 float16 inputs: the largest distance from the CPU per op', async () => {
    const all = fromBits(ALL);
    const gpuAll = all.to('webgpu');
    const found: string[] = [];
    for (const op of UNARY_OPS) {
      const e = tg[op](all);
      const a = tg[op](gpuAll);
      const tol = { ulps: APPROXIMATE.has(op) ? 1 : 0, atol: APPROXIMATE.has(op) ? 2 ** -22 : 0 };
      await expectSame(`${op} of every float16`, APPROXIMATE.has(op) ? 'transcendental' : 'elementwise', a, e, tol);
      if (e.dtype === 'float16') {
        const [ab, eb] = [(await a.rawData()) as Uint16Array, e.rawDataSync() as Uint16Array];
        let far = 0;
        let off = 0;
        for (let i = 0; i < eb.length; i++) {
          const d = ulps(ab[i]!, eb[i]!);
          far = Math.max(far, d);
          if (d > 0) off++;
        }
        found.push(`${op} ${far}${off ? ` (${off} inputs)` : ''}`);
      }
    }
    console.log(`float16 unary ops over every input, largest distance from the CPU in half ulps: ${found.join(', ')}`);
  });

  const PAIRS: [number[], number[]][] = [[[3, 4], [3, 4]], [[2, 1, 4], [3, 1]], [[], [5]], [[70, 9], [9]]];
  it.each(BINARY_OPS.map((op) => [op]))('%s over broadcast shapes and with float32, int32 and float16 operands', async (op) => {
    const family = APPROXIMATE.has(op) ? 'transcendental' : 'elementwise';
    const tol = { ulps: APPROXIMATE.has(op) ? 1 : 0, atol: 0, rtol: APPROXIMATE.has(op) ? 1e-6 : 0 };
    for (const [sa, sb] of PAIRS) {
      for (const { label, t: a } of layouts(sa, halfValues(2, op === 'pow'))) {
        const b = op === 'pow' ? tg.rand(sb).mul(3).to('float16') : halfValues(2)(sb);
        await parity(`${op} ${label} with ${JSON.stringify(sb)}`, family, (x, y) => tg[op](x, y), [a, b], tol);
      }
    }
    // promotion: float16 with int32 stays float16; with float32 it is float32 (one operand f16, the output f32)
    await parity(`${op} with int32`, family, (x, y) => tg[op](x, y), [half([4, 5], 1).abs().add(0.5), tg.randint(1, 4, [5])], tol);
    await parity(`${op} with float32`, family, (x, y) => tg[op](x, y), [half([4, 5], 1).abs().add(0.5), tg.rand([4, 5]).add(0.5)], { ...tol, rtol: 2e-6 });
    await parity(`${op} with a number`, family, (x) => tg[op](x, 3), [half([4, 5], 1).abs().add(0.5)], tol);
  });

  it.each(COMPARE_OPS.map((op) => [op]))('%s, with ties and NaN', async (op) => {
    const a = fromBits(Uint16Array.of(0x3c00, 0x7e00, 0x4200, 0x7e00, 0xfc00, 0x0000, 0x0001));
    const b = fromBits(Uint16Array.of(0x3c00, 0x3c00, 0x7e00, 0x7e00, 0xfc00, 0x8000, 0x0000));
    await parity(`${op} specials`, 'elementwise', (x, y) => tg[op](x, y), [a, b]);
    await parity(`${op} with float32`, 'elementwise', (x, y) => tg[op](x, y), [half([4, 6]).round(), tg.randn([6]).mul(2).round()]);
  });

  it('where, clamp, tril/triu, copy_ between float16 and float32', async () => {
    await parity('where', 'elementwise', (c, x, y) => tg.where(c, x, y), [tg.rand([5, 6]).gt(0.5), half([5, 6]), half([6])]);
    await parity('clamp', 'elementwise', (x) => x.clamp(-1, 1.5), [half([5, 6])]);
    await parity('tril', 'elementwise', (x) => x.tril(-1), [half([5, 6])]);
    await parity('triu', 'elementwise', (x) => x.triu(2), [half([5, 6])]);
    // copy_ rounds a float32 source into a float16 view, and widens a float16 one into float32
    const into = (dst: tg.Tensor, src: tg.Tensor) => (dst.slice(1, 1, 5).copy_(src), dst);
    await parity('copy_ float32 into float16', 'elementwise', (d, s) => into(d.clone(), s), [half([3, 6]), tg.randn([3, 4])]);
    await parity('copy_ float16 into float32', 'elementwise', (d, s) => into(d.clone(), s), [tg.randn([3, 6]), half([3, 4])]);
  });

  it('activations forward and backward (gelu, silu, leakyRelu, elu, softplus, mish, hardswish, relu)', async () => {
    const fns: [string, (x: tg.Tensor) => tg.Tensor][] = [
      ['gelu', (x) => nn.gelu(x)], ['silu', (x) => nn.silu(x)], ['leakyRelu', (x) => nn.leakyRelu(x, 0.1)], ['elu', (x) => nn.elu(x, 0.7)],
      ['softplus', (x) => nn.softplus(x, { beta: 2, threshold: 5 })], ['mish', (x) => nn.mish(x)], ['hardswish', (x) => nn.hardswish(x)], ['relu', (x) => tg.relu(x)],
    ];
    // (2^-22: a few ulps of the float16 subnormals, where f32 erf and exp differ from float64's most)
    for (const [name, f] of fns) await gradParity(name, 'transcendental', f, [half([6, 70], 3)], [0], { ulps: 1, atol: 2 ** -22 });
  });
});

gpuDescribe('float16 reductions, scans, sort', () => {
  // sums accumulate in f32 in another order than the CPU's: one ulp, or a little absolute error where they cancel
  const SUM = { ulps: 1, atol: 4e-3 };
  it('sum, mean, prod, max, min, argmax, argmin, any, all over short and long lines', async () => {
    for (const shape of [[6, 9], [3, 700]]) {
      const x = half(shape);
      for (const dim of [0, 1]) {
        await parity(`sum ${shape} dim ${dim}`, 'reduce', (t) => t.sum(dim), [x], SUM);
        await parity(`mean ${shape} dim ${dim}`, 'reduce', (t) => t.mean(dim), [x], SUM);
        await parity(`max ${shape} dim ${dim}`, 'reduce', (t) => t.max(dim), [x]);
        await parity(`min ${shape} dim ${dim}`, 'reduce', (t) => t.min(dim), [x]);
        await parity(`argmax ${shape} dim ${dim}`, 'reduce', (t) => t.argmax(dim), [x]);
        await parity(`argmin ${shape} dim ${dim}`, 'reduce', (t) => t.argmin(dim), [x]);
        await parity(`any ${shape} dim ${dim}`, 'reduce', (t) => t.round().any(dim), [x]);
        await parity(`all ${shape} dim ${dim}`, 'reduce', (t) => t.round().all(dim), [x]);
      }
      await parity(`sum ${shape}`, 'reduce', (t) => t.sum(), [x], SUM);
    }
    await parity('prod', 'reduce', (t) => t.prod(1), [half([5, 8], 0.5).add(1)], { ulps: 2 });
    // an expanded (stride 0) dim and a NaN
    await parity('sum over an expanded dim', 'reduce', (t) => t.expand([5, 4, 6]).sum(0), [half([1, 4, 6])], SUM);
    await parity('max with NaN', 'reduce', (t) => t.max(0), [fromBits(Uint16Array.of(0x3c00, 0x7e00, 0x4000, 0x4000))]);
  });

  it('cumsum and cumprod, short and long lines', async () => {
    await parity('cumsum short', 'reduce', (t) => t.cumsum(1), [half([4, 20], 1)], SUM);
    await parity('cumsum long', 'reduce', (t) => t.cumsum(0), [half([600, 3], 0.5)], { ulps: 1, atol: 0.05 });
    await parity('cumprod', 'reduce', (t) => t.cumprod(1), [half([4, 12], 0.2).add(1)], { ulps: 2 });
  });

  it('sort (the same order and indices, NaN last, stable) and topk, short and long lines', async () => {
    const x = tg.cat([half([3, 300], 1).round(), fromBits(new Uint16Array(3).fill(0x7e00), [3, 1])], 1);
    for (const descending of [false, true]) {
      const { values: cv, indices: ci } = x.sort(1, descending);
      const { values: gv, indices: gi } = x.to('webgpu').sort(1, descending);
      await expectSame(`sort values descending=${descending}`, 'sort', gv, cv);
      await expectSame(`sort indices descending=${descending}`, 'sort', gi, ci);
    }
    const y = half([4, 30]);
    const { values: tv, indices: ti } = y.to('webgpu').topk(5, 1);
    const { values: cv, indices: ci } = y.topk(5, 1);
    await expectSame('topk values', 'sort', tv, cv);
    await expectSame('topk indices', 'sort', ti, ci);
    // lines longer than a workgroup's block (1024): merges in global memory, keys read through the indices
    const long = tg.cat([half([2, 2500], 1).round(), fromBits(Uint16Array.of(0x7e00, 0xfe00, 0x8000, 0x0000), [2, 2])], 1);
    for (const descending of [false, true]) {
      const { values: cv, indices: ci } = long.sort(1, descending);
      const { values: gv, indices: gi } = long.to('webgpu').sort(1, descending);
      await expectSame(`long sort values descending=${descending}`, 'sort', gv, cv);
      await expectSame(`long sort indices descending=${descending}`, 'sort', gi, ci);
    }
    const { values: lv, indices: li } = long.transpose(0, 1).contiguous().to('webgpu').sort(0);
    await expectSame('long sort along dim 0', 'sort', lv, long.transpose(0, 1).contiguous().sort(0).values);
    await expectSame('long sort along dim 0, indices', 'sort', li, long.transpose(0, 1).contiguous().sort(0).indices);
  });
});

gpuDescribe('float16 matmul, conv, pooling', () => {
  // accumulated in f32 over k terms: one ulp, or the float32 rounding of a cancelling sum
  const ACC = { ulps: 1, atol: 2e-3 };
  it('matmul: small blocks, 64x64 blocks, transposed operands, broadcast batches', async () => {
    await parity('matmul 17x33 @ 33x9', 'matmul', (a, b) => a.matmul(b), [half([17, 33], 1), half([33, 9], 1)], ACC);
    await parity('matmul 256x40 @ 40x260 (register tiles)', 'matmul', (a, b) => a.matmul(b), [half([256, 40], 0.5), half([40, 260], 0.5)], ACC);
    await parity('matmul transposed', 'matmul', (a, b) => a.transpose(0, 1).matmul(b.transpose(0, 1)), [half([20, 7], 1), half([5, 20], 1)], ACC);
    await parity('bmm broadcast', 'matmul', (a, b) => a.matmul(b), [half([3, 1, 6, 8], 1), half([4, 8, 5], 1)], ACC);
    // float16 times float32 promotes to float32: each operand loads by its own dtype
    await parity('float16 @ float32', 'matmul', (a, b) => a.matmul(b), [half([6, 16], 1), tg.randn([16, 5])], { atol: 1e-5, rtol: 1e-4 });
  });

  it('conv2d forward and both gradients; convTranspose2d', async () => {
    await gradParity('conv2d', 'conv', (x, w, b) => nn.conv2d(x, w, b, { padding: 1, stride: 2 }), [half([2, 3, 9, 9], 1), half([4, 3, 3, 3], 0.4), half([4], 1)], [0, 1, 2], ACC, { ulps: 1, atol: 1e-2 });
    await gradParity('conv2d groups dilation', 'conv', (x, w) => nn.conv2d(x, w, null, { groups: 2, dilation: 2 }), [half([1, 4, 9, 8], 1), half([6, 2, 2, 3], 0.4)], [0, 1], ACC, { ulps: 1, atol: 1e-2 });
    await parity('convTranspose2d', 'conv', (x, w) => nn.convTranspose2d(x, w, null, { stride: 2 }), [half([1, 3, 4, 4], 1), half([3, 2, 3, 3], 0.4)], ACC);
  });

  it('maxPool2d, avgPool2d, adaptiveAvgPool2d forward and backward', async () => {
    const x = half([2, 3, 9, 8]);
    await gradParity('maxPool2d', 'pool', (t) => nn.maxPool2d(t, 3, { stride: 2, padding: 1 }), [x], [0], { ulps: 0 }, { ulps: 1, atol: 2e-3 });
    await gradParity('avgPool2d', 'pool', (t) => nn.avgPool2d(t, 2), [x], [0], { ulps: 1 });
    await gradParity('adaptiveAvgPool2d', 'pool', (t) => nn.adaptiveAvgPool2d(t, [3, 2]), [x], [0], { ulps: 1, atol: 2e-3 });
  });
});

gpuDescribe('float16 softmax and losses', () => {
  const SOFT = { ulps: 1, atol: 2e-3 };
  it('softmax and logSoftmax, short and long rows, forward and backward', async () => {
    for (const shape of [[5, 9], [3, 700]]) {
      await gradParity(`softmax ${shape}`, 'softmax', (x) => tg.softmax(x, 1), [half(shape)], [0], SOFT);
      await gradParity(`logSoftmax ${shape}`, 'softmax', (x) => tg.logSoftmax(x, 1), [half(shape)], [0], SOFT);
    }
  });

  it('crossEntropy (fused) and nllLoss with weights, ignoreIndex, label smoothing', async () => {
    const t = tg.tensor([0, 4, 2, -100, 1, 3, 3, 0, 2], { dtype: 'int32' });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      await gradParity(`crossEntropy ${reduction}`, 'losses', (x, w) => nn.functional.crossEntropy(x, t.to(x.device), { reduction, weight: w, labelSmoothing: 0.1 }), [half([9, 5]), tg.rand([5]).add(0.5).to('float16')], [0], SOFT);
      await gradParity(`nllLoss ${reduction}`, 'losses', (x) => nn.functional.nllLoss(tg.logSoftmax(x, 1), t.to(x.device), { reduction }), [half([9, 5])], [0], SOFT);
    }
    await gradParity('crossEntropy long rows', 'losses', (x) => nn.functional.crossEntropy(x, tg.tensor([3, 599, 0], { dtype: 'int32', device: x.device })), [half([3, 600])], [0], SOFT);
  });

  it('kernels whose output dtype differs from the input: float16 in, float32 out', async () => {
    // the op level does not ask for this yet (autocast will): run the kernels directly on views
    const x = half([4, 300]);
    const cpuRef = x.to('float32');
    const view = (t: tg.Tensor) => ({ handle: t.storage.handle, dtype: t.dtype, shape: t.shape, strides: t.strides, offset: t.offset });
    const gx = x.to('webgpu');
    for (const [op, attrs, ref, shape] of [
      ['softmax', { dim: 1 }, tg.softmax(cpuRef, 1), [4, 300]],
      ['logSoftmax', { dim: 1 }, tg.logSoftmax(cpuRef, 1), [4, 300]],
      ['sum', { dims: [1] }, cpuRef.sum(1), [4]],
    ] as const) {
      const out = tg.Tensor.empty('webgpu', [...shape], 'float32');
      backend!.run(tg.getKernel(op, 'webgpu') as never, [view(gx) as never], [view(out) as never], attrs, op);
      await expectSame(`${op} float16 -> float32`, 'mixed', out, ref, { atol: 1e-5, rtol: 1e-4 });
    }
    // the fused crossEntropy: float16 logits, float32 loss, stats and total weight
    const y = tg.randint(0, 300, [4]);
    const [loss, stats, total] = [[], [4, 2], []].map((shape) => tg.Tensor.empty('webgpu', shape, 'float32'));
    const attrs = { reduction: 'mean', ignoreIndex: -100, labelSmoothing: 0.1 };
    backend!.run(tg.getKernel('crossEntropy', 'webgpu') as never, [view(gx), view(y.to('webgpu'))] as never, [view(loss!), view(stats!), view(total!)] as never, attrs, 'crossEntropy');
    await expectSame('crossEntropy float16 -> float32', 'mixed', loss!, nn.functional.crossEntropy(cpuRef, y, { labelSmoothing: 0.1 }), { atol: 1e-5, rtol: 1e-4 });
  });

  it('binaryCrossEntropy, mseLoss, layerNorm, embedding, multinomial', async () => {
    const p = tg.rand([6, 5]).mul(0.9).add(0.05).to('float16');
    await gradParity('binaryCrossEntropy', 'losses', (x, t) => nn.functional.binaryCrossEntropy(x, t), [p, tg.rand([6, 5]).round().to('float16')], [0], SOFT);
    await gradParity('mseLoss', 'losses', (x, t) => nn.functional.mseLoss(x, t), [half([6, 5]), half([6, 5])], [0, 1], SOFT);
    await gradParity('layerNorm', 'losses', (x, w, b) => nn.layerNorm(x, [40], w, b), [half([3, 40]), half([40], 0.5), half([40], 0.5)], [0, 1, 2], { ulps: 2, atol: 4e-3 });
    await gradParity('embedding', 'indexing', (w, i) => nn.embedding(i, w), [half([10, 4]), tg.tensor([3, 3, 0, 9], { dtype: 'int32' })], [0], { ulps: 0 }, { ulps: 0 });
    const probs = tg.rand([3, 9]).add(0.1).to('float16');
    tg.manualSeed(5);
    const cpu = tg.multinomial(probs, 4, { replacement: true });
    tg.manualSeed(5);
    const gpu = tg.multinomial(probs.to('webgpu'), 4, { replacement: true });
    await expectSame('multinomial', 'indexing', gpu, cpu);
  });
});

gpuDescribe('float16 indexing and data movement', () => {
  it('gather, scatterAdd, indexSelect, cat, flip, roll, pad (exact: values move unchanged)', async () => {
    const x = half([5, 7]);
    await parity('gather', 'indexing', (t, i) => t.gather(1, i), [x, tg.randint(0, 7, [5, 4])]);
    await parity('indexSelect', 'indexing', (t, i) => t.indexSelect(0, i), [x, tg.tensor([4, 0, 2, 2], { dtype: 'int32' })]);
    await parity('scatterAdd', 'indexing', (t, i, s) => t.scatterAdd(1, i, s), [x, tg.randint(0, 7, [5, 6]), half([5, 6])], { ulps: 0 });
    await parity('cat', 'indexing', (a, b) => tg.cat([a, b], 1), [x, half([5, 3])]);
    await parity('cat float16 with float32', 'indexing', (a, b) => tg.cat([a, b], 0), [x, tg.randn([2, 7])]);
    await parity('flip', 'indexing', (t) => t.flip([0, 1]), [x]);
    await parity('roll', 'indexing', (t) => t.roll(3, 1), [x]);
    for (const mode of ['constant', 'reflect', 'replicate', 'circular'] as const) {
      await gradParity(`pad ${mode}`, 'indexing', (t) => tg.pad(t, [2, 1, 1, 2], mode === 'constant' ? { mode, value: 0.25 } : { mode }), [half([1, 2, 5, 7])], [0], { ulps: 0 }, { ulps: 0 });
    }
    // NaNs: moved through f32 and rounded back, a NaN keeps its sign and loses its payload, as
    // the CPU's kernels (which also run in float32) leave it
    const nans = fromBits(Uint16Array.of(0x7d01, 0xfc01, 0x7e00, 0x7c00));
    const idx = tg.tensor([0, 1, 2, 3], { dtype: 'int32' });
    const want = Uint16Array.of(0x7e00, 0xfe00, 0x7e00, 0x7c00);
    expect(nans.gather(0, idx).rawDataSync()).toEqual(want);
    expect(await nans.to('webgpu').gather(0, idx.to('webgpu')).rawData()).toEqual(want);
    expect(await nans.to('webgpu').flip([0]).rawData()).toEqual(want.slice().reverse());
  });
});

gpuDescribe('float16 training', () => {
  // float16 leaves throughout (nn's modules hold float32 parameters; autocast will bridge them)
  const TRAIN = { ulps: 2, atol: 1e-3 };
  it('a small MLP: the loss and the gradients of every parameter match the CPU', async () => {
    const y = tg.randint(0, 5, [8]);
    const mlp = (x: tg.Tensor, w1: tg.Tensor, b1: tg.Tensor, w2: tg.Tensor, b2: tg.Tensor) =>
      nn.functional.crossEntropy(nn.linear(nn.gelu(nn.linear(x, w1, b1)), w2, b2), y.to(x.device));
    await gradParity('MLP', 'training', mlp, [half([8, 12], 1), half([16, 12], 0.3), half([16], 0.1), half([5, 16], 0.3), half([5], 0.1)], [1, 2, 3, 4], TRAIN);
  });

  it('a small CNN: the loss and the gradients of every parameter match the CPU', async () => {
    const y = tg.randint(0, 3, [3]);
    const cnn = (x: tg.Tensor, k: tg.Tensor, c: tg.Tensor, w: tg.Tensor, b: tg.Tensor) => {
      const h = nn.maxPool2d(tg.relu(nn.conv2d(x, k, c, { padding: 1 })), 2);
      return nn.functional.crossEntropy(nn.linear(h.reshape([3, 64]), w, b), y.to(x.device));
    };
    await gradParity('CNN', 'training', cnn, [half([3, 2, 8, 8], 1), half([4, 2, 3, 3], 0.3), half([4], 0.1), half([3, 64], 0.2), half([3], 0.1)], [1, 2, 3, 4], TRAIN);
  });

  it('a compiled float16 training step replays eager\'s bits on WebGPU', async () => {
    const init = [half([16, 12], 0.3), half([16], 0.1), half([5, 16], 0.3), half([5], 0.1)];
    const xs = [0, 1, 2, 3].map(() => half([8, 12], 1));
    const y = tg.randint(0, 5, [8]).to('webgpu');
    const run = async (compiled: boolean, dtype: tg.DType = 'float16') => {
      const ps = init.map((t) => t.to('webgpu').to(dtype).requiresGrad_());
      const opt = new nn.optim.Adam(ps, { lr: 0.01 });
      const step = (x: tg.Tensor) => {
        const loss = nn.functional.crossEntropy(nn.linear(tg.relu(nn.linear(x, ps[0]!, ps[1])), ps[2]!, ps[3]), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss;
      };
      const f = compiled ? tg.compile(step) : step;
      for (const x of xs) f(x.to('webgpu').to(dtype)).dispose();
      // (the first step traces, the second again: Adam's state appeared)
      if (compiled) expect([(f as tg.Compiled<[tg.Tensor], tg.Tensor>).stats().traces, (f as tg.Compiled<[tg.Tensor], tg.Tensor>).stats().replays]).toEqual([2, 2]);
      return Promise.all(ps.map((p) => p.rawData()));
    };
    // the same step in float32 first: its programs have the same kernels, and the replayer must not
    // hand the float16 ones their pipelines (the WGSL differs)
    await run(true, 'float32');
    const [eager, compiled] = [await run(false), await run(true)];
    expect(compiled).toEqual(eager);
    expect(eager[0]).not.toEqual(init[0]!.rawDataSync()); // the steps changed the parameters
  });

  it.each([
    ['SGD momentum nesterov weightDecay', (ps: tg.Tensor[]) => new nn.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam amsgrad weightDecay', (ps: tg.Tensor[]) => new nn.optim.Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.1 })],
    ['AdamW', (ps: tg.Tensor[]) => new nn.optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
  ] as const)('%s on float16 parameters: three fused steps match the CPU', async (_what, make) => {
    const init = half([4, 33], 1);
    const grads = [0, 1, 2].map(() => half([4, 33], 1));
    const run = (device: tg.Device) => {
      const p = init.clone().to(device).requiresGrad_();
      const opt = make([p]);
      for (const g of grads) {
        opt.zeroGrad();
        p.mul(g.to(device)).sum().backward();
        opt.step();
      }
      return p;
    };
    await expectSame('parameters', 'optimizer', run('webgpu'), run('cpu'), { ulps: 1 });
  });
});
