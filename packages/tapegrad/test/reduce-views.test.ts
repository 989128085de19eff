import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tg from '../src/index.js';

// Reductions walk strided, transposed, sliced and broadcast views in place (issue 15, bug 8:
// `ones([1]).expand([2 ** 31]).sum()` took 35 s and 8 GB, an offset per element of the view).
// Over any view they must give what they give over the view's contiguous copy.

type Op = (x: tg.Tensor, dims: number[] | undefined, keepdim: boolean) => tg.Tensor;
const REDUCTIONS: Record<string, Op> = {
  sum: (x, d, k) => x.sum(d, k),
  mean: (x, d, k) => x.mean(d, k),
  max: (x, d, k) => x.max(d, k),
  min: (x, d, k) => x.min(d, k),
  argmax: (x, d, k) => x.argmax(d?.[0], k),
  argmin: (x, d, k) => x.argmin(d?.[0], k),
  logsumexp: (x, d, k) => x.logsumexp(d ?? x.shape.map((_, i) => i), k),
  softmax: (x, d) => x.softmax(d?.[0] ?? -1),
  logSoftmax: (x, d) => x.logSoftmax(d?.[0] ?? -1),
};
const ONE_DIM = new Set(['argmax', 'argmin', 'softmax', 'logSoftmax']);
const FLOAT_ONLY = new Set(['mean', 'logsumexp', 'softmax', 'logSoftmax']);

/** A seeded integer in [0, n). */
const pick = (n: number) => tg.randint(0, n, []).itemSync();

/**
 * A random view of `shape`: each dim taken whole from a bigger tensor, as a stride-2 slice of
 * one, or broadcast from size 1 (stride 0); sometimes an extra broadcast leading dim; then the
 * dims permuted. `make` gives the values of the tensor under the view.
 */
function randomView(shape: number[], make: (s: number[]) => tg.Tensor): { x: tg.Tensor; label: string } {
  const perm = shape.map((_, i) => i).sort(() => pick(2) - 0.5);
  const kinds = shape.map(() => ['whole', 'sliced', 'broadcast'][pick(3)]!);
  const inner = perm.map((p) => shape[p]!); // the view's shape before permuting back
  const lead = pick(3) === 0;
  if (lead) kinds[0] = 'broadcast';
  const baseShape = inner.map((n, i) => (kinds[i] === 'sliced' ? 2 * n + 1 : kinds[i] === 'broadcast' ? 1 : n));
  let x = make(lead ? baseShape.slice(1) : baseShape);
  if (lead) x = x.unsqueeze(0);
  inner.forEach((n, i) => {
    if (kinds[i] === 'sliced') x = x.slice(i, 1, undefined, 2);
  });
  x = x.expand(inner);
  const back = perm.map((_, i) => perm.indexOf(i));
  return { x: x.permute(back), label: `${JSON.stringify(shape)} kinds=${kinds} perm=${perm}${lead ? ' lead' : ''}` };
}

function same(a: tg.Tensor, b: tg.Tensor, exact: boolean, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  expect(a.dtype, what).toBe(b.dtype);
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < y.length; i++) {
    if (exact ? !Object.is(x[i], y[i]) : !(Math.abs(x[i]! - y[i]!) <= 1e-6 * Math.max(1, Math.abs(y[i]!)) || (x[i] !== x[i] && y[i] !== y[i]))) {
      expect.fail(`${what} [${i}]: ${x[i]} over the view, ${y[i]} over its copy`);
    }
  }
}

describe('reductions over views equal reductions over their contiguous copies', () => {
  // Values on a grid of 1/8 make every sum exact in the float64 accumulator, so any summation
  // order gives the same bits: results must be bit-identical (max/min/arg ops, softmax and the
  // int and bool sums are order-independent anyway). Normal floats then check the rounding
  // within 1e-6 relative: a broadcast dim's n equal terms become one product, n·x.
  const grids: [string, tg.DType, (s: number[]) => tg.Tensor, boolean][] = [
    ['grid float32', 'float32', (s) => tg.randint(-40, 40, s).cast('float32').div(8), true],
    ['grid float64', 'float64', (s) => tg.randint(-40, 40, s).cast('float64').div(8), true],
    ['int32', 'int32', (s) => tg.randint(-1000, 1000, s), true],
    ['bool', 'bool', (s) => tg.randint(0, 2, s).cast('bool'), true],
    ['normal float32', 'float32', (s) => tg.randn(s).mul(3), false],
  ];
  for (const [label, dtype, make, exact] of grids) {
    it(`${label}: random views, dims and keepdim`, () => {
      tg.manualSeed(15);
      for (let trial = 0; trial < 40; trial++) {
        tg.tidy(() => {
          const rank = 1 + pick(4);
          const shape = Array.from({ length: rank }, () => 1 + pick(5));
          const { x, label: view } = randomView(shape, make);
          const copy = x.contiguous();
          for (const [name, op] of Object.entries(REDUCTIONS)) {
            if (FLOAT_ONLY.has(name) && !tg.isFloating(dtype)) continue;
            if (name !== 'sum' && dtype === 'bool') continue;
            const dimsChoices: (number[] | undefined)[] = ONE_DIM.has(name)
              ? [[pick(rank)], [pick(rank) - rank], ...(name.startsWith('arg') ? [undefined] : [])]
              : [undefined, [pick(rank)], shape.map((_, i) => i).filter(() => pick(2) === 1)];
            for (const dims of dimsChoices) {
              for (const keepdim of [false, true]) {
                same(op(x, dims, keepdim), op(copy, dims, keepdim), exact, `${name} ${label} ${view} dims=${JSON.stringify(dims)} keepdim=${keepdim}`);
              }
            }
          }
        });
      }
    });
  }

  it('gradients through views of a leaf equal those through its copy', () => {
    tg.manualSeed(16);
    for (let trial = 0; trial < 30; trial++) {
      const rank = 1 + pick(3);
      const shape = Array.from({ length: rank }, () => 1 + pick(4));
      let leaf: tg.Tensor | undefined;
      const { x, label } = randomView(shape, (s) => (leaf = tg.randint(-40, 40, s).cast('float64').div(8).requiresGrad_()));
      for (const name of ['sum', 'mean', 'max', 'logsumexp'] as const) {
        const dims = [pick(rank)];
        const grads = [x, x.contiguous()].map((v) => {
          leaf!.grad = null;
          const y = REDUCTIONS[name]!(v, dims, false);
          // distinct weights per output element, so a gradient routed to the wrong element shows
          y.mul(tg.arange(1, 1 + y.size).cast('float64').reshape([...y.shape])).sum().backward(undefined, { retainGraph: true });
          return leaf!.grad!;
        });
        same(grads[0]!, grads[1]!, name !== 'logsumexp', `${name} grad ${label} dims=${dims}`);
      }
    }
  });
});

describe('a broadcast view of 2^31 elements is reduced without being materialised', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sum, mean, max, min, argmax, argmin: no allocation of the view\'s size, flat peak memory', () => {
    const alloc = vi.spyOn(tg.getBackend('cpu'), 'alloc');
    const peakKiB = () => process.resourceUsage().maxRSS;
    const before = peakKiB();
    const n = 2 ** 31;
    const x = tg.ones([1]).expand([n]);
    // torch.ones(1).expand(2**31).sum() is exactly 2147483648.0 (a float32 running sum would stop at 2^24)
    expect(x.sum().itemSync()).toBe(2147483648);
    expect(x.mean().itemSync()).toBe(1);
    expect([x.max().itemSync(), x.min().itemSync(), x.argmax().itemSync(), x.argmin().itemSync()]).toEqual([1, 1, 0, 0]);
    const rows = tg.tensor([[1], [2], [3]]).expand([3, 2 ** 29]);
    expect(Array.from(rows.sum(1).dataSync())).toEqual([2 ** 29, 2 ** 30, 3 * 2 ** 29]);
    expect(Array.from(rows.T.max(0).dataSync())).toEqual([1, 2, 3]);
    expect(rows.T.argmax().itemSync()).toBe(2); // [0, 2] of the flattened [2^29, 3]
    expect(tg.tensor([-1, 2]).reshape(1, 2).expand([2 ** 30, 2]).T.sum([0, 1]).itemSync()).toBe(2 ** 30);
    // an int32 sum of that size does not fit, and says so
    expect(() => tg.ones([1], { dtype: 'int32' }).expand([n]).sum()).toThrow(/^sum: the sum 2147483648 does not fit in int32/);
    const largest = Math.max(...alloc.mock.calls.map(([, length]) => length));
    expect(largest).toBeLessThan(16); // outputs and scalars only
    expect(peakKiB() - before).toBeLessThan(256 * 1024); // an offset table of the view would be 8 GiB
  });
});
