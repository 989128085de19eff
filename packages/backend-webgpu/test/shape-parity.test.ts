// Parity of the shape ops of issue 16 against the CPU backend on seeded random inputs: remap
// (flip, roll, pad in every mode; repeat and tile are copies) over layouts and dtypes, exact;
// remapBackward and the gradients of pad, flip and roll through backward, within float32
// rounding of a different summation order; the views (select, split, unbind) read back on the
// GPU; maskedSelect, which must read its mask (async on the GPU); multinomial, whose samples
// are the CPU's bit for bit, and whose bad probabilities fail every read of the result.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as tg from '@tapegrad/tensor';
import { expectClose, layouts, openDevice, parity, values } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(16));

const GRAD = { atol: 1e-5, rtol: 1e-5 };
const DTYPES: tg.DType[] = ['float32', 'int32', 'bool'];

/** Forward on both devices, then backward with one upstream gradient: the input gradients must agree. */
async function gradientParity(what: string, fn: (x: tg.Tensor) => tg.Tensor, input: tg.Tensor): Promise<void> {
  const cpu = input.clone().requiresGrad_();
  const gpu = input.to('webgpu').requiresGrad_();
  const expected = fn(cpu);
  const actual = fn(gpu);
  expectClose(await actual.data(), expected.dataSync(), {}, `${what} forward`);
  const up = tg.randn(expected.shape);
  expected.backward(up);
  actual.backward(up.to('webgpu'));
  expectClose(await gpu.grad!.data(), cpu.grad!.dataSync(), GRAD, `${what} gradient`);
}

gpuDescribe('remap: flip, roll, pad, and the copies repeat and tile', () => {
  it('flip and roll over dims, layouts and dtypes', async () => {
    for (const dtype of DTYPES) {
      for (const { label, t } of layouts([3, 4, 5], values(dtype))) {
        await parity(`flip ${dtype} ${label}`, (x) => x.flip(0, 2), [t]);
        await parity(`roll ${dtype} ${label}`, (x) => x.roll([2, -7], [1, 2]), [t]);
        await parity(`roll flattened ${dtype} ${label}`, (x) => x.roll(13), [t]);
      }
    }
    await parity('flip 0-d', (x) => x.flip(0), [tg.randn([])]);
    await parity('roll empty', (x) => x.roll(1, 0), [tg.randn([0, 3])]);
  });
  it('pad in every mode, over layouts and dtypes, with cropping', async () => {
    for (const dtype of DTYPES) {
      for (const { label, t } of layouts([2, 5, 6], values(dtype))) {
        await parity(`pad constant ${dtype} ${label}`, (x) => tg.pad(x, [2, 1, -1, 3], { value: 1 }), [t]);
        await parity(`pad reflect ${dtype} ${label}`, (x) => tg.pad(x, [5, -2, 3, 4], { mode: 'reflect' }), [t]);
        await parity(`pad replicate ${dtype} ${label}`, (x) => tg.pad(x, [7, 1, -1, 2], { mode: 'replicate' }), [t]);
        await parity(`pad circular ${dtype} ${label}`, (x) => tg.pad(x, [6, 4, 5, 0, 1, 1], { mode: 'circular' }), [t]);
      }
    }
    await parity('pad constant NaN', (x) => tg.pad(x, [1, 1], { value: NaN }), [tg.randn([2, 3])]);
    await parity('pad constant of an empty dim', (x) => tg.pad(x, [2, 1]), [tg.randn([3, 0])]);
    await parity('pad to an empty result', (x) => tg.pad(x, [-2, -1]), [tg.randn([3, 3])]);
  });
  it('repeat and tile', async () => {
    for (const { label, t } of layouts([2, 3], values('float32'))) {
      await parity(`repeat ${label}`, (x) => x.repeat(2, 1, 3), [t]);
      await parity(`tile ${label}`, (x) => x.tile(3), [t]);
    }
  });
  it('remapBackward sums where reflect, replicate and circular padding read twice', async () => {
    // an input of 9 along dim 1 padded (lo before) to `size`, cropping where lo < 0
    for (const [mode, lo, size] of [['reflect', 3, 14], ['reflect', -2, 11], ['replicate', 5, 16], ['replicate', -3, 7], ['circular', 4, 18], ['circular', 0, 10]] as const) {
      for (const { label, t } of layouts([3, size, 4], values('float32'))) {
        await parity(`remapBackward ${mode} lo=${lo} ${label}`, (g) => tg.run('remapBackward', [g], { map: { dim: 1, mode, lo, size }, shape: [3, 9, 4] }), [t], GRAD);
      }
    }
  });
  it('gradients through backward: flip, roll, pad in every mode', async () => {
    const x = tg.randn([2, 6, 7]);
    await gradientParity('flip', (t) => t.flip(0, 2), x);
    await gradientParity('roll', (t) => t.roll([3, -1], [1, 2]), x);
    await gradientParity('pad constant', (t) => tg.pad(t, [2, 1, 0, 3]), x);
    await gradientParity('pad constant, cropping', (t) => tg.pad(t, [-2, 1, 1, -3]), x);
    for (const mode of ['reflect', 'replicate', 'circular'] as const) {
      await gradientParity(`pad ${mode}`, (t) => tg.pad(t, [3, 2, 5, 1], { mode }), x);
    }
    await gradientParity('repeat', (t) => t.repeat(2, 1, 1, 2), x);
  });
});

gpuDescribe('views and maskedSelect', () => {
  it('select, index, split, chunk and unbind read back on the GPU', async () => {
    for (const { label, t } of layouts([4, 5], values('float32'))) {
      await parity(`select ${label}`, (x) => x.select(1, -2).clone(), [t]);
      await parity(`index ${label}`, (x) => x.index(3, 1).clone(), [t]);
      await parity(`split ${label}`, (x) => tg.cat(x.split([2, 0, 3], 1), 1), [t]);
      await parity(`chunk ${label}`, (x) => tg.stack(x.chunk(2, 0).map((c) => c.sum(0))), [t]);
      await parity(`unbind ${label}`, (x) => tg.stack(x.unbind(1).reverse(), 0), [t]);
    }
  });
  it('maskedSelect needs a read on the GPU: the sync form says to await maskedSelectAsync, which matches the CPU', async () => {
    for (const [xs, ms] of [[[3, 4], [3, 4]], [[2, 3, 4], [3, 1]], [[4], [3, 4]]] as [number[], number[]][]) {
      const x = tg.randn(xs);
      const m = tg.rand(ms).gt(0.5);
      const want = tg.maskedSelect(x, m);
      const got = await tg.maskedSelectAsync(x.to('webgpu'), m.to('webgpu'));
      expect(got.device).toBe('webgpu');
      expect(got.shape).toEqual(want.shape);
      expectClose(await got.data(), want.dataSync(), {}, `maskedSelectAsync ${JSON.stringify(xs)} ${JSON.stringify(ms)}`);
    }
    const gx = tg.randn([2, 2]).to('webgpu');
    expect(() => tg.maskedSelect(gx, tg.ones([2, 2], { dtype: 'bool' }).to('webgpu'))).toThrow(tg.DeviceError);
    expect(() => gx.maskedSelect(tg.ones([2, 2], { dtype: 'bool' }).to('webgpu'))).toThrow(/on 'webgpu'; use `await maskedSelectAsync\(x, mask\)`$/);
    await expect(tg.maskedSelectAsync(gx, tg.ones([2, 2], { dtype: 'bool' }))).rejects.toThrow("maskedSelectAsync: x is on 'webgpu' and mask on 'cpu'; expected one device");
  });
  it('maskedSelectAsync passes the gradient back on the GPU', async () => {
    const m = tg.rand([3, 5]).gt(0.4);
    const x = tg.randn([3, 5]);
    const cpu = x.clone().requiresGrad_();
    const gpu = x.to('webgpu').requiresGrad_();
    const want = tg.maskedSelect(cpu, m);
    want.mul(tg.arange(want.shape[0]!)).sum().backward();
    const out = await tg.maskedSelectAsync(gpu, m.to('webgpu'));
    out.mul(tg.arange(out.shape[0]!).to('webgpu')).sum().backward();
    expectClose(await gpu.grad!.data(), cpu.grad!.dataSync(), {}, 'maskedSelect gradient');
  });
});

gpuDescribe('multinomial', () => {
  /** The same seed on both devices: the same samples, exactly. */
  async function sameSamples(what: string, probs: tg.Tensor, numSamples: number, replacement: boolean): Promise<void> {
    tg.manualSeed(99);
    const want = tg.multinomial(probs, numSamples, { replacement });
    tg.manualSeed(99);
    const got = tg.multinomial(probs.to('webgpu'), numSamples, { replacement });
    expect(got.device).toBe('webgpu');
    expect(got.shape, what).toEqual(want.shape);
    expect(Array.from(await got.data()), what).toEqual(Array.from(want.dataSync()));
  }
  it('gives the CPU samples, with and without replacement, 1-d and 2-d, strided, with zeros', async () => {
    for (const replacement of [true, false]) {
      await sameSamples(`1-d ${replacement}`, tg.rand([7]), 5, replacement);
      await sameSamples(`2-d ${replacement}`, tg.rand([6, 40]).pow(3), 12, replacement);
      await sameSamples(`transposed ${replacement}`, tg.rand([30, 5]).T, 9, replacement);
      await sameSamples(`zeros ${replacement}`, tg.rand([4, 10]).mul(tg.rand([4, 10]).gt(0.5)).add(tg.oneHot(tg.tensor([1, 3, 5, 7], { dtype: 'int32' }), 10).cast('float32')), 2, replacement);
      await sameSamples(`many categories ${replacement}`, tg.rand([2, 3000]), 20, replacement);
      await sameSamples(`empty batch ${replacement}`, tg.rand([0, 4]), 3, replacement);
    }
    await sameSamples('every category', tg.rand([3, 8]), 8, false);
    await sameSamples('many samples', tg.rand([3, 8]), 1000, true);
  });
  it('bad probabilities fail every read of the samples with the CPU message', async () => {
    const bad: [string, number[] | number[][], number, boolean][] = [
      ['negative', [0.2, -0.1, 0.3], 1, true],
      ['NaN', [[1, 1], [NaN, 1]], 1, false],
      ['infinite', [1, Infinity], 2, true],
      ['zero row', [[1, 1], [0, 0]], 1, true],
      ['not enough non-zero', [[1, 1, 0], [0, 1, 0]], 2, false],
    ];
    for (const [what, data, n, replacement] of bad) {
      const probs = tg.tensor(data as number[]);
      let message = '';
      try {
        tg.multinomial(probs, n, { replacement });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, what).toMatch(/^multinomial: /);
      const out = tg.multinomial(probs.to('webgpu'), n, { replacement });
      await expect(out.data(), what).rejects.toThrow(message);
      await expect(out.add(1).data(), `${what}, computed from`).rejects.toThrow(message);
    }
  });
});
