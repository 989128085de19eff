// WebGPU against the CPU for the scans (cumsum, cumprod), prod, sort and what is built on them
// (argsort, topk, max/min with indices), the statistics and norms, and the batched products and
// einsum: forwards on seeded random inputs in several layouts, lengths on both sides of each
// kernel's thresholds (a thread per line up to 32, a workgroup beyond; sort in workgroup memory
// up to 1024, merged in global memory beyond), and gradients through backward. Sorts compare
// exactly, ties included: both kernels sort by (value, index), so they agree on every index.
// Tolerances: float32 scans and products 1e-4 relative (the GPU accumulates in f32, the CPU in
// float64, in another order for long lines); gradients as in nn-parity.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as tg from '@tapegrad/tensor';
import { gradParity, layouts, openDevice, parity, values, type Tol } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(16));

const FWD: Tol = { atol: 1e-5, rtol: 1e-4 };

/** Forward parity, then backward with one random upstream gradient on both devices: the gradients of the inputs in `grads`. */
/** Values near 1 in magnitude, some negative, so long products neither vanish nor overflow. */
const nearOne = (s: number[]) => tg.rand(s).mul(0.4).add(0.8).mul(tg.where(tg.rand(s).gt(0.2), 1, -1));

gpuDescribe('scans', () => {
  const CASES: [number[], number][] = [[[7], 0], [[3, 5], 1], [[3, 5], 0], [[2, 40, 3], 1], [[2, 300], -1], [[1000, 2], 0], [[], 0], [[3, 0], 1]];
  for (const op of ['cumsum', 'cumprod'] as const) {
    it(`${op}: float32, int32 and bool, any dim and layout, short and long lines`, async () => {
      for (const [shape, dim] of CASES) {
        for (const { label, t } of layouts(shape, op === 'cumprod' ? nearOne : values('float32'))) {
          await parity(`${op} float ${label} dim=${dim}`, (x) => tg[op](x, dim), [t], FWD);
        }
        const ints = op === 'cumprod' ? (s: number[]) => tg.randint(-1, 3, s) : values('int32');
        for (const { label, t } of layouts(shape, ints)) await parity(`${op} int ${label} dim=${dim}`, (x) => tg[op](x, dim), [t]);
        for (const { label, t } of layouts(shape, values('bool'))) await parity(`${op} bool ${label} dim=${dim}`, (x) => tg[op](x, dim), [t]);
      }
      await parity(`${op} NaN and infinities`, (x) => tg[op](x, 1), [tg.tensor([[1, NaN, 2], [Infinity, 0, -1]])]);
    });
  }
  it('gradients: the reverse scans, and cumprod through zeros (one, two, leading), short and long lines', async () => {
    for (const [shape, dim] of [[[3, 6], 1], [[300, 2], 0], [[2, 3, 4], -1]] as [number[], number][]) {
      await gradParity(`cumsum ${JSON.stringify(shape)}`, (x) => tg.cumsum(x!, dim), [tg.randn(shape)], [0]);
      await gradParity(`cumprod ${JSON.stringify(shape)}`, (x) => tg.cumprod(x!, dim), [nearOne(shape)], [0]);
      const zeros = nearOne(shape).mul(tg.rand(shape).gt(0.15));
      await gradParity(`cumprod with zeros ${JSON.stringify(shape)}`, (x) => tg.cumprod(x!, dim), [zeros], [0]);
    }
    await gradParity('cumprod zeros', (x) => tg.cumprod(x!, 1), [tg.tensor([[0, 2, 3, 0, 1], [1, 0, 0, 2, 3]])], [0]);
  });
});

gpuDescribe('prod', () => {
  const CASES: [number[], number | undefined][] = [[[6], undefined], [[6], 0], [[3, 5], 1], [[3, 5], 0], [[4, 3, 70], -1], [[2, 300], 1], [[300, 2], 0], [[4, 3, 5], undefined], [[2, 0, 3], 1]];
  it('float32 and int32 over dims and layouts (broadcast copies multiplied in), keepdim', async () => {
    for (const [shape, dim] of CASES) {
      for (const keepdim of [false, true]) {
        for (const { label, t } of layouts(shape, nearOne)) await parity(`prod float ${label} dim=${dim} keepdim=${keepdim}`, (x) => tg.prod(x, dim, keepdim), [t], FWD);
        for (const { label, t } of layouts(shape, (s) => tg.randint(-1, 2, s))) await parity(`prod int ${label} dim=${dim}`, (x) => tg.prod(x, dim, keepdim), [t]);
      }
    }
    await parity('prod bool', (x) => tg.prod(x, 1), [values('bool')([4, 50])]);
    await parity('prod NaN', (x) => tg.prod(x, 1), [tg.tensor([[1, NaN, 2], [Infinity, 0, -1]])]);
  });
  it('gradients, zeros included', async () => {
    await gradParity('prod all', (x) => tg.prod(x!), [nearOne([3, 4])], [0]);
    await gradParity('prod dim', (x) => tg.prod(x!, 1, true), [nearOne([4, 40])], [0]);
    await gradParity('prod with zeros', (x) => tg.prod(x!, 0), [tg.tensor([[0, 2, 0], [3, 0, 0], [0.5, 1.5, 2]])], [0]);
  });
});

// Where: the first thread to find an overflow reports it, so on a line with several the index is
// one of them, not necessarily the first (as for the GPU's index checks).
gpuDescribe('int overflow on the GPU fails reads with the op, as the CPU', () => {
  it('cumsum, cumprod, prod', async () => {
    const big = tg.full([2, 40], 3, { dtype: 'int32' }).to('webgpu');
    await expect(tg.cumprod(big, 1).data()).rejects.toThrow(/^cumprod: the running product at index \[[01], (19|[23]\d)\] does not fit in int32/);
    await expect(tg.prod(big, 1).data()).rejects.toThrow(/^prod: the product at output index \[[01]\] does not fit in int32/);
    const long = tg.full([600], 2 ** 22, { dtype: 'int32' }).to('webgpu');
    await expect(tg.cumsum(long, 0).data()).rejects.toThrow(/^cumsum: the running sum at index \[(51[1-9]|5[2-9]\d)\] does not fit in int32/);
    await expect(tg.cumsum(long.narrow(0, 0, 20), 0).data()).resolves.toBeTruthy();
    await expect(tg.prod(long.narrow(0, 0, 300)).data()).rejects.toThrow(/^prod: the product does not fit in int32/);
    // a zero after an overflowed partial product: the product is 0 and fits
    expect(Array.from(await tg.prod(tg.tensor([65536, 65536, 0, 5], { dtype: 'int32' }).to('webgpu')).data())).toEqual([0]);
    expect(Array.from(await tg.prod(tg.tensor([-2, 2 ** 30], { dtype: 'int32' }).to('webgpu')).data())).toEqual([-(2 ** 31)]);
  });
});

gpuDescribe('sort', () => {
  // lengths: one block, a full block, past it (merges in global memory), and not powers of two
  const LENGTHS = [1, 2, 7, 33, 1024, 1025, 3000];
  it('float32 with many ties, NaN and -0: values and indices exactly, ascending and descending, any dim and layout', async () => {
    for (const n of LENGTHS) {
      for (const { label, t } of layouts([3, n], (s) => tg.randint(-4, 5, s).cast('float32').div(2))) {
        for (const descending of [false, true]) {
          await parity(`sort values ${label} desc=${descending}`, (x) => tg.sort(x, 1, descending).values, [t]);
          await parity(`sort indices ${label} desc=${descending}`, (x) => tg.sort(x, 1, descending).indices, [t]);
        }
      }
    }
    const special = tg.tensor([[3, NaN, -0, 0, -Infinity, Infinity, NaN, 1, -1, 0, -0, 2]]);
    for (const descending of [false, true]) {
      await parity(`sort special desc=${descending}`, (x) => tg.sort(x, 1, descending).indices, [special]);
      await parity(`sort special values desc=${descending}`, (x) => tg.sort(x, 1, descending).values.div(0).sign(), [special]);
    }
  });
  it('int32 and bool, other dims, 0-d', async () => {
    for (const [shape, dim] of [[[5, 4], 0], [[2, 3, 40], 1], [[2, 1100, 2], 1], [[], 0]] as [number[], number][]) {
      for (const { label, t } of layouts(shape, (s) => tg.randint(-(2 ** 31), 2 ** 31 - 1, s))) {
        await parity(`sort int ${label} dim=${dim}`, (x) => tg.sort(x, dim).indices, [t]);
        await parity(`sort int values ${label} dim=${dim} desc`, (x) => tg.sort(x, dim, true).values, [t]);
      }
      await parity(`sort bool dim=${dim}`, (x) => tg.sort(x, dim, true).indices, [values('bool')(shape)]);
    }
    await parity('sort empty', (x) => tg.sort(x, 1).indices, [tg.randn([3, 0])]);
  });
  it('argsort, topk, max and min with indices', async () => {
    const x = tg.randint(0, 20, [4, 1500]).cast('float32');
    await parity('argsort', (t) => tg.argsort(t, 1, true), [x]);
    await parity('topk values', (t) => tg.topk(t, 5).values, [x]);
    await parity('topk indices', (t) => tg.topk(t, 5, 1, false).indices, [x]);
    await parity('topk dim 0', (t) => tg.topk(t, 2, 0).indices, [x]);
    await parity('maxWithIndices', (t) => tg.maxWithIndices(t, 1).indices, [x]);
    await parity('minWithIndices', (t) => tg.minWithIndices(t, 0, true).values, [x]);
  });
  it('gradients through the indices', async () => {
    await gradParity('sort', (x) => tg.sort(x!, 1).values, [tg.randn([3, 40])], [0]);
    await gradParity('sort long', (x) => tg.sort(x!, 0, true).values, [tg.randn([1100, 2])], [0]);
    await gradParity('topk', (x) => tg.topk(x!, 3).values, [tg.randn([4, 20])], [0]);
    await gradParity('maxWithIndices', (x) => tg.maxWithIndices(x!, 1).values, [tg.randn([4, 20])], [0]);
  });
});

gpuDescribe('statistics, norms, batched products and einsum (composites)', () => {
  it('var, std and norms, with gradients', async () => {
    const x = tg.randn([3, 40, 2]);
    await gradParity('var', (t) => tg.var(t!, 1), [x], [0]);
    await gradParity('std keepdim correction 0', (t) => tg.std(t!, [0, 2], { correction: 0, keepdim: true }), [x], [0]);
    for (const p of [2, 1, Infinity, -Infinity, 3, 0.5]) await gradParity(`norm ${p}`, (t) => tg.norm(t!, p, 1), [x], [0]);
    await parity('norm 0', (t) => tg.norm(t, 0, 1), [x.mul(tg.rand([3, 40, 2]).gt(0.5))]);
  });
  it('bmm, baddbmm, outer, diagonal and einsum, with gradients', async () => {
    await gradParity('bmm', (a, b) => tg.bmm(a!, b!), [tg.randn([2, 5, 7]), tg.randn([2, 7, 3])], [0, 1]);
    await gradParity('baddbmm', (i, a, b) => tg.baddbmm(i!, a!, b!, { beta: 0.5, alpha: 2 }), [tg.randn([5, 1]), tg.randn([2, 5, 7]), tg.randn([2, 7, 3])], [0, 1, 2]);
    await gradParity('outer', (a, b) => tg.outer(a!, b!), [tg.randn([5]), tg.randn([4])], [0, 1]);
    await gradParity('diagonal', (a) => tg.diagonal(a!, 1, 0, 2), [tg.randn([4, 3, 5])], [0]);
    await gradParity('einsum attention', (q, k) => tg.einsum('bhqd,bhkd->bhqk', q!, k!), [tg.randn([2, 2, 5, 4]), tg.randn([2, 2, 6, 4])], [0, 1]);
    await gradParity('einsum chain and trace', (a, b) => tg.einsum('ij,jk,kk->i', a!, b!, b!.narrow(0, 0, 3)), [tg.randn([2, 3]), tg.randn([3, 3])], [0, 1]);
    await gradParity('einsum ellipsis', (a, b) => tg.einsum('...ij,...jk->...ik', a!, b!), [tg.randn([2, 1, 3, 4]), tg.randn([3, 4, 2])], [0, 1]);
  });
});
