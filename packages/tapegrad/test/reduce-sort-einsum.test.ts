import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../src/index.js';
import { decode, expectClose, throws, type Encoded } from './helpers.js';

// Scans (cumsum, cumprod), prod, var/std, norm, sort/argsort/topk, max/min with indices, bmm,
// baddbmm, outer, diagonal and einsum: values and gradients against PyTorch
// (fixtures/gen_i16-reduce.py wrote fixtures/i16-reduce.json with Debian's torch 1.13), gradcheck
// in float64, the semantics torch documents (stable sorts, NaN, ties, zeros), views, bad input.

type T = tg.Tensor;
interface Case {
  inputs: Encoded[];
  outputs: Encoded[];
  seed?: Encoded;
  grads: (Encoded | null)[] | null;
}
// the fixture writes NaN and the infinities as strings (JSON has no literal for them)
const cases: Record<string, Case> = JSON.parse(readFileSync(new URL('./fixtures/i16-reduce.json', import.meta.url), 'utf8'), (_, v) =>
  v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
);
const pair = ({ values, indices }: tg.ValuesIndices) => [values, indices];
// torch's norm(x, 0) requires grad but its backward gives an undefined gradient (None), which
// torch treats as zeros; tapegrad gives the zeros
const ZERO_FOR_NONE = new Set(['norm_0']);

const calls: Record<string, (...xs: T[]) => T | T[]> = {
  cumsum_dim1: (x) => x.cumsum(1),
  cumsum_dim0: (x) => tg.cumsum(x, 0),
  cumsum_neg_dim: (x) => x.cumsum(-2),
  cumsum_0d: (x) => x.cumsum(0),
  cumsum_int: (x) => x.cumsum(1),
  cumsum_bool: (x) => x.cumsum(0),
  cumprod_dim1: (x) => x.cumprod(1),
  cumprod_dim0: (x) => tg.cumprod(x, 0),
  cumprod_zeros: (x) => x.cumprod(1),
  cumprod_zeros_dim0: (x) => x.cumprod(0),
  cumprod_int: (x) => x.cumprod(1),
  prod_all: (x) => x.prod(),
  prod_dim: (x) => tg.prod(x, 1),
  prod_dim_keep: (x) => x.prod(0, true),
  prod_zeros: (x) => x.prod(1),
  prod_all_one_zero: (x) => x.prod(),
  prod_all_two_zeros: (x) => x.prod(),
  prod_int: (x) => x.prod(0),
  prod_bool: (x) => x.prod(),
  prod_0d: (x) => x.prod(),
  var_all: (x) => x.var(),
  var_dim: (x) => tg.var(x, 1),
  var_dims_keep: (x) => x.var([0, 2], { keepdim: true }),
  var_correction0: (x) => x.var(1, { correction: 0 }),
  var_correction2: (x) => x.var(-1, { correction: 2, keepdim: true }),
  var_unbiased_false: (x) => x.var(0, { unbiased: false }),
  var_one_element: (x) => x.var(),
  std_all: (x) => x.std(),
  std_dim: (x) => tg.std(x, 2),
  std_correction0_keep: (x) => x.std([0, 1], { correction: 0, keepdim: true }),
  std_constant_slice: (x) => x.std(1),
  norm_2: (x) => x.norm(),
  norm_2_dim_keep: (x) => x.norm(2, 1, true),
  norm_2_dims: (x) => tg.norm(x, 2, [0, 2]),
  norm_1: (x) => x.norm(1, 1),
  norm_inf: (x) => x.norm(Infinity, 1),
  norm_neg_inf: (x) => x.norm(-Infinity, 0),
  norm_0: (x) => x.norm(0, 1),
  norm_3: (x) => x.norm(3, -1),
  norm_half: (x) => x.norm(0.5, 1),
  norm_neg1: (x) => x.norm(-1, 1),
  norm_1_dims: (x) => x.norm(1, [0, 1]),
  norm_2_zero_row: (x) => x.norm(2, 1),
  norm_3_with_zeros: (x) => x.norm(3, 1),
  norm_half_with_zero: (x) => x.norm(0.5),
  sort_last: (x) => pair(x.sort()),
  sort_desc: (x) => pair(x.sort(-1, true)),
  sort_dim0: (x) => pair(tg.sort(x, 0)),
  sort_ties_stable: (x) => pair(x.sort()),
  sort_ties_stable_desc: (x) => pair(x.sort(-1, true)),
  sort_nan: (x) => pair(x.sort()),
  sort_nan_desc: (x) => pair(x.sort(0, true)),
  sort_int: (x) => pair(x.sort(1)),
  sort_0d: (x) => pair(x.sort()),
  argsort: (x) => x.argsort(1),
  argsort_desc: (x) => tg.argsort(x, 0, true),
  topk: (x) => pair(x.topk(2)),
  topk_smallest: (x) => pair(x.topk(3, 1, false)),
  topk_dim0: (x) => pair(tg.topk(x, 2, 0)),
  topk_all: (x) => pair(x.topk(5)),
  max_dim: (x) => pair(x.maxWithIndices(1)),
  max_dim_keep: (x) => pair(x.maxWithIndices(0, true)),
  min_dim: (x) => pair(tg.minWithIndices(x, -1)),
  max_dim_ties: (x) => pair(x.maxWithIndices(1)),
  min_dim_ties: (x) => pair(x.minWithIndices(1)),
  max_dim_int: (x) => pair(x.maxWithIndices(0)),
  bmm: (a, b) => a!.bmm(b!),
  baddbmm: (i, a, b) => i!.baddbmm(a!, b!),
  baddbmm_scaled_bcast: (i, a, b) => tg.baddbmm(i!, a!, b!, { beta: 0.5, alpha: -2 }),
  outer: (a, b) => a!.outer(b!),
  outer_int: (a, b) => tg.outer(a!, b!),
  diagonal: (x) => x.diagonal(),
  diagonal_offset: (x) => x.diagonal(1),
  diagonal_neg_offset_dims: (x) => tg.diagonal(x, -1, 2, 0),
  einsum_matmul: (a, b) => tg.einsum('ij,jk->ik', a!, b!),
  einsum_chain: (a, b, c) => tg.einsum('ij,jk,kl->il', a!, b!, c!),
  einsum_bmm: (a, b) => tg.einsum('bij,bjk->bik', a!, b!),
  einsum_diag: (a) => tg.einsum('ii->i', a!),
  einsum_trace: (a) => tg.einsum('ii', a!),
  einsum_transpose: (a) => tg.einsum('ij->ji', a!),
  einsum_ellipsis: (a, b) => tg.einsum('...ij,...jk->...ik', a!, b!),
  einsum_implicit: (a, b) => tg.einsum('ij,jk', a!, b!),
  einsum_implicit_order: (a) => tg.einsum('bA', a!),
  einsum_outer: (a, b) => tg.einsum('i,j->ij', a!, b!),
  einsum_dot: (a, b) => tg.einsum('i,i->', a!, b!),
  einsum_sum_all: (a) => tg.einsum('ij->', a!),
  einsum_attention: (q, k) => tg.einsum('bhqd,bhkd->bhqk', q!, k!),
  einsum_bilinear: (a, w, b) => tg.einsum('bi,oij,bj->bo', a!, w!, b!),
  einsum_broadcast_label: (a, b) => tg.einsum('ij,ij->j', a!, b!),
  einsum_ellipsis_summed: (a) => tg.einsum('...i->i', a!),
  einsum_repeat_across: (a, b) => tg.einsum('iij,jk->ik', a!, b!),
  einsum_int: (a, b) => tg.einsum('ij,jk->ik', a!, b!),
};

describe('against PyTorch', () => {
  it('covers every case in the fixture, and nothing else', () => {
    expect(Object.keys(cases).filter((k) => !calls[k])).toEqual([]);
    expect(Object.keys(calls).filter((k) => !cases[k])).toEqual([]);
  });
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      tg.tidy(() => {
        const inputs = c.inputs.map((e) => decode(e, c.grads !== null));
        const result = calls[name]!(...inputs);
        const outs = Array.isArray(result) ? result : [result];
        expect(outs.length).toBe(c.outputs.length);
        outs.forEach((out, k) => {
          expect(out.shape, `${name} output ${k} shape`).toEqual(c.outputs[k]!.shape);
          expect(out.dtype, `${name} output ${k} dtype`).toBe(c.outputs[k]!.dtype);
          expectClose(out.dataSync(), c.outputs[k]!.data, 1e-9, 1e-9, `${name} output ${k}`);
        });
        if (c.grads && c.seed) {
          outs[0]!.mul(decode(c.seed)).sum().backward();
          c.grads.forEach((g, i) => {
            if (!g && ZERO_FOR_NONE.has(name)) return expect(Array.from(inputs[i]!.grad!.dataSync()).every((v) => v === 0)).toBe(true);
            if (!g) return expect(inputs[i]!.grad).toBeNull();
            expectClose(inputs[i]!.grad!.dataSync(), g.data, 1e-9, 1e-9, `${name} grad ${i}`);
          });
        }
      });
    });
  }
});

describe('gradcheck in float64', () => {
  tg.manualSeed(1616);
  const f64 = { dtype: 'float64' as const };
  const rnd = (shape: number[]) => tg.randn(shape, f64).requiresGrad_();
  /** Values at least 0.2 from zero and from each other in magnitude, so |x| and order are differentiable. */
  const spread = (shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const mags = tg.tensor(tg.defaultGenerator.permutation(n)).cast('float64').mul(0.3).add(0.2);
    const signs = tg.where(tg.rand([n]).gt(0.5), 1, -1);
    return mags.mul(signs).reshape(shape).detach().requiresGrad_();
  };
  const given = (data: number[], shape: number[]) => () => [tg.tensor(data, { ...f64, shape }).requiresGrad_()];
  type GradCase = [string, (...xs: T[]) => T, () => T[]];
  const gcases: GradCase[] = [
    ['cumsum [4]', (x) => x.cumsum(0), () => [rnd([4])]],
    ['cumsum [2,3,2] dim 1', (x) => x.cumsum(1), () => [rnd([2, 3, 2])]],
    ['cumsum dim -1 of a transpose', (x) => x.T.cumsum(-1), () => [rnd([3, 4])]],
    ['cumsum 0-d', (x) => x.cumsum(0), () => [rnd([])]],
    ['cumprod [2,5] dim 1', (x) => x.cumprod(1), () => [rnd([2, 5])]],
    ['cumprod dim 0', (x) => x.cumprod(0), () => [rnd([4, 3])]],
    // zeros: torch's cumprod_backward case; finite differences through them are fine (a polynomial)
    ['cumprod with one zero per row', (x) => x.cumprod(1), given([2, 0, 3, -1.5, 0.5, 1.5, -0.5, 2, 3, 0], [2, 5])],
    ['cumprod with two zeros, and one first', (x) => x.cumprod(1), given([0, 1.5, -2, 0, 3, 1, 0, 2, 0, 0.5], [2, 5])],
    ['cumprod of zeros only', (x) => x.cumprod(0), given([0, 0, 0], [3])],
    ['prod all', (x) => x.prod(), () => [rnd([2, 3])]],
    ['prod dim keepdim', (x) => x.prod(1, true), () => [rnd([3, 4])]],
    ['prod middle dim of 3-d', (x) => x.prod(1), () => [rnd([2, 3, 2])]],
    ['prod with a zero', (x) => x.prod(1), given([1.5, 0, -2, 0.5, 3, 1], [2, 3])],
    ['prod with two zeros', (x) => x.prod(), given([1.5, 0, -2, 0], [2, 2])],
    ['prod 0-d', (x) => x.prod(), () => [rnd([])]],
    ['var all', (x) => x.var(), () => [rnd([3, 4])]],
    ['var dims keepdim correction 0', (x) => x.var([0, 2], { correction: 0, keepdim: true }), () => [rnd([2, 3, 2])]],
    ['var correction 2', (x) => x.var(1, { correction: 2 }), () => [rnd([2, 5])]],
    ['std dim', (x) => x.std(1), () => [rnd([3, 4])]],
    ['std all unbiased false', (x) => x.std(undefined, { unbiased: false }), () => [rnd([2, 3])]],
    ['norm 2', (x) => x.norm(), () => [rnd([3, 4])]],
    ['norm 2 dim keepdim', (x) => x.norm(2, 1, true), () => [rnd([3, 4])]],
    ['norm 1', (x) => x.norm(1, 0), () => [spread([3, 4])]],
    ['norm inf', (x) => x.norm(Infinity, 1), () => [spread([3, 4])]],
    ['norm -inf', (x) => x.norm(-Infinity), () => [spread([3, 4])]],
    ['norm 3 dims', (x) => x.norm(3, [0, 2]), () => [spread([2, 3, 2])]],
    ['norm 0.5', (x) => x.norm(0.5, 1), () => [spread([2, 3])]],
    ['norm -1', (x) => x.norm(-1, 1), () => [spread([2, 3])]],
    ['sort values', (x) => x.sort(1).values, () => [spread([3, 4])]],
    ['sort descending dim 0', (x) => x.sort(0, true).values, () => [spread([3, 4])]],
    ['sort 0-d', (x) => x.sort().values, () => [rnd([])]],
    ['topk', (x) => x.topk(2, 1).values, () => [spread([3, 5])]],
    ['topk smallest dim 0', (x) => x.topk(2, 0, false).values, () => [spread([4, 3])]],
    ['maxWithIndices', (x) => x.maxWithIndices(1).values, () => [spread([3, 4])]],
    ['minWithIndices keepdim', (x) => x.minWithIndices(0, true).values, () => [spread([3, 4])]],
    ['maxWithIndices 0-d', (x) => x.maxWithIndices(0).values, () => [rnd([])]],
    ['bmm', (a, b) => a!.bmm(b!), () => [rnd([2, 3, 4]), rnd([2, 4, 2])]],
    ['bmm of transposes', (a, b) => a!.transpose(1, 2).bmm(b!.transpose(1, 2)), () => [rnd([2, 4, 3]), rnd([2, 2, 4])]],
    ['baddbmm broadcast input, beta, alpha', (i, a, b) => i!.baddbmm(a!, b!, { beta: 0.5, alpha: -1.5 }), () => [rnd([3, 1]), rnd([2, 3, 4]), rnd([2, 4, 2])]],
    ['outer', (a, b) => a!.outer(b!), () => [rnd([3]), rnd([4])]],
    ['diagonal', (x) => x.diagonal(), () => [rnd([3, 4])]],
    ['diagonal offset and dims', (x) => x.diagonal(-1, 2, 0), () => [rnd([3, 2, 4])]],
    ['einsum matmul', (a, b) => tg.einsum('ij,jk->ik', a!, b!), () => [rnd([2, 3]), rnd([3, 4])]],
    ['einsum chain of three', (a, b, c) => tg.einsum('ij,jk,kl->il', a!, b!, c!), () => [rnd([2, 3]), rnd([3, 2]), rnd([2, 2])]],
    ['einsum batched', (a, b) => tg.einsum('bij,bjk->bik', a!, b!), () => [rnd([2, 2, 3]), rnd([2, 3, 2])]],
    ['einsum diagonal', (a) => tg.einsum('ii->i', a!), () => [rnd([3, 3])]],
    ['einsum trace', (a) => tg.einsum('ii', a!), () => [rnd([3, 3])]],
    ['einsum transpose', (a) => tg.einsum('ij->ji', a!), () => [rnd([2, 3])]],
    ['einsum ellipsis broadcast', (a, b) => tg.einsum('...ij,...jk->...ik', a!, b!), () => [rnd([2, 1, 2, 3]), rnd([3, 3, 2])]],
    ['einsum bilinear', (a, w, b) => tg.einsum('bi,oij,bj->bo', a!, w!, b!), () => [rnd([2, 3]), rnd([2, 3, 2]), rnd([2, 2])]],
    ['einsum broadcast label', (a, b) => tg.einsum('ij,ij->j', a!, b!), () => [rnd([1, 3]), rnd([2, 3])]],
  ];
  for (const [name, fn, inputs] of gcases) {
    it(name, () => {
      tg.tidy(() => {
        expect(tg.gradcheck(fn, inputs())).toBe(true);
      });
    });
  }
});

describe('sorting: stable, NaN, ties', () => {
  it('sort is the stable sort, ascending and descending, on many ties (checked against Array.prototype.sort, which is stable)', () => {
    tg.manualSeed(3);
    const x = tg.randint(0, 5, [4, 300]);
    for (const descending of [false, true]) {
      const { values, indices } = x.sort(1, descending);
      const rows = x.arraySync() as number[][];
      const expected = rows.map((row) => row.map((v, i) => [v, i] as const).sort((a, b) => (descending ? b[0] - a[0] : a[0] - b[0])));
      expect(indices.arraySync()).toEqual(expected.map((r) => r.map(([, i]) => i)));
      expect(values.arraySync()).toEqual(expected.map((r) => r.map(([v]) => v)));
      expect(x.argsort(1, descending).arraySync()).toEqual(indices.arraySync());
    }
  });
  it('-0 and 0 tie and keep their signs in the values; NaN is the largest', () => {
    const { values, indices } = tg.tensor([0, -0, NaN, -1, 0]).sort();
    expect(Array.from(indices.dataSync())).toEqual([3, 0, 1, 4, 2]);
    expect(Array.from(values.dataSync()).map((v) => Object.is(v, -0))).toEqual([false, false, true, false, false]);
  });
  it('topk picks the lowest index among ties (torch leaves it unspecified) and NaN as the largest', () => {
    expect(Array.from(tg.tensor([1, 2, 2, 2, 0]).topk(2).indices.dataSync())).toEqual([1, 2]);
    expect(Array.from(tg.tensor([1, 2, 2, 2, 0]).topk(2, 0, false).indices.dataSync())).toEqual([4, 0]);
    expect(Array.from(tg.tensor([1, NaN, 3]).topk(1).indices.dataSync())).toEqual([1]);
  });
  it('topk returns copies, not views that keep the whole sort alive', () => {
    const { values, indices } = tg.randn([2, 50]).topk(3);
    expect([values.isContiguous(), indices.isContiguous(), values.storage.length, indices.storage.length]).toEqual([true, true, 6, 6]);
  });
  it('the values of a sort carry their gradient to the input position they came from', () => {
    const x = tg.tensor([3, 1, 2], { requiresGrad: true });
    x.sort().values.mul(tg.tensor([1, 10, 100])).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([100, 1, 10]);
  });
});

describe('max and min with a dim, values and indices', () => {
  it('the index is the first extreme; the gradient goes to it alone, where max(dim) shares it among ties', () => {
    const x = tg.tensor([[1, 3, 3], [2, 2, 1]], { requiresGrad: true });
    const { values, indices } = x.maxWithIndices(1);
    expect([Array.from(values.dataSync()), Array.from(indices.dataSync())]).toEqual([[3, 2], [1, 0]]);
    values.sum().backward();
    expect(x.grad!.arraySync()).toEqual([[0, 1, 0], [1, 0, 0]]);
    const y = tg.tensor([[1, 3, 3], [2, 2, 1]], { requiresGrad: true });
    y.max(1).sum().backward();
    expect(y.grad!.arraySync()).toEqual([[0, 0.5, 0.5], [0.5, 0.5, 0]]);
  });
  it('NaN counts as the extreme, as in torch', () => {
    const { values, indices } = tg.tensor([[1, NaN, 3]]).minWithIndices(1);
    expect([Number.isNaN(values.dataSync()[0]), indices.dataSync()[0]]).toEqual([true, 1]);
  });
});

describe('int scans and products: int32, and an error where int32 cannot hold the result', () => {
  it('values in range are exact; a product with a zero after a large partial product is 0', () => {
    const i = (d: number[]) => tg.tensor(d, { dtype: 'int32' });
    expect(Array.from(i([2 ** 30, 2 ** 30 - 1, -(2 ** 31) + 1]).cumsum(0).dataSync())).toEqual([2 ** 30, 2 ** 31 - 1, 0]);
    expect(i([2 ** 20, 2 ** 20, 0]).prod().itemSync()).toBe(0);
    expect(i([-2, 2 ** 30]).prod().itemSync()).toBe(-(2 ** 31));
    expect(tg.tensor([true, true]).cumsum(0).dtype).toBe('int32');
  });
  it('overflow is a ValueError naming the op, the value and where', () => {
    const i = (d: number[]) => tg.tensor(d, { dtype: 'int32' });
    throws(() => i([2 ** 30, 2 ** 30]).cumsum(0), tg.ValueError, /^cumsum: the running sum 2147483648 at index \[1\] does not fit in int32/);
    throws(() => i([4, 2 ** 30, 0]).cumprod(0), tg.ValueError, /^cumprod: the running product 4294967296 at index \[1\] does not fit in int32/);
    throws(() => i([2, 2 ** 30]).prod(), tg.ValueError, /^prod: the product 2147483648 does not fit in int32/);
    throws(() => i([1, 2, 3, 2 ** 30]).reshape(2, 2).prod(1), tg.ValueError, /^prod: the product 3221225472 at output index \[1\] does not fit in int32/);
  });
});

describe('views: scans, prod and sort walk strided, transposed and broadcast views in place', () => {
  it('give what they give over the contiguous copy', () => {
    tg.manualSeed(4);
    const base = tg.randint(-3, 4, [3, 9]).cast('float64').div(2);
    const views: [string, T][] = [
      ['transposed', base.T],
      ['sliced', base.slice(1, 1, undefined, 2)],
      ['expanded', base.narrow(0, 0, 1).expand(4, 9)],
      ['expanded, transposed', base.narrow(1, 2, 1).expand(3, 5).T],
    ];
    for (const [label, v] of views) {
      const c = v.contiguous();
      for (const dim of [0, 1]) {
        for (const [op, f] of [
          ['cumsum', (t: T) => t.cumsum(dim)],
          ['cumprod', (t: T) => t.cumprod(dim)],
          ['prod', (t: T) => t.prod(dim)],
          ['sort', (t: T) => t.sort(dim, dim === 1).values],
          ['argsort', (t: T) => t.argsort(dim)],
        ] as const) {
          expect(f(v).arraySync(), `${op} ${label} dim ${dim}`).toEqual(f(c).arraySync());
        }
      }
      expect(v.prod().itemSync(), `prod ${label}`).toBe(c.prod().itemSync());
    }
  });
});

describe('statistics, norms and products', () => {
  it('var: correction defaults to 1; unbiased is the older spelling; too few elements give inf or NaN, as torch', () => {
    const x = tg.tensor([1, 2, 3, 4], { dtype: 'float64' });
    expect([x.var().itemSync(), x.var(0, { correction: 0 }).itemSync(), x.var(0, { unbiased: false }).itemSync()]).toEqual([5 / 3, 1.25, 1.25]);
    expect(x.var(0, { correction: 4 }).itemSync()).toBe(Infinity);
    expect(Number.isNaN(tg.tensor([2]).var().itemSync())).toBe(true);
  });
  it('std and the 2-norm have gradient 0 at 0 (torch: a subgradient), not NaN', () => {
    const x = tg.tensor([[1, 1], [0, 0]], { requiresGrad: true });
    x.std(1).sum().add(x.norm(2, 1).sum()).backward();
    expect(x.grad!.arraySync()).toEqual([[0.7071067690849304, 0.7071067690849304], [0, 0]]);
  });
  it('norm keeps NaN and infinities', () => {
    const x = tg.tensor([NaN, 1]);
    expect([x.norm(), x.norm(1), x.norm(3)].map((n) => Number.isNaN(n.itemSync()))).toEqual([true, true, true]);
    expect([tg.tensor([Infinity, 1]).norm().itemSync(), tg.tensor([0, 2]).norm(-1).itemSync(), tg.tensor([0, 0]).norm(0).itemSync()]).toEqual([Infinity, 0, 0]);
  });
  it('baddbmm with beta 0 ignores input, NaN included, as torch', () => {
    const out = tg.baddbmm(tg.full([2, 2, 2], NaN), tg.ones([2, 2, 3]), tg.ones([2, 3, 2]), { beta: 0, alpha: 2 });
    expect(Array.from(out.dataSync())).toEqual(new Array(8).fill(6));
  });
  it('einsum agrees with the ops it stands for, on random operands', () => {
    tg.manualSeed(5);
    const [a, b, c] = [tg.randn([2, 3, 4]), tg.randn([2, 4, 5]), tg.randn([5, 3])];
    const close = (x: T, y: T) => expectClose(x.dataSync(), y.dataSync(), 1e-5, 1e-5);
    close(tg.einsum('bij,bjk,kl->bil', a, b, c), a.bmm(b).matmul(c));
    close(tg.einsum('bij->j', a), a.sum([0, 1]));
    close(tg.einsum('bij,bij->b', a, a), a.square().sum([1, 2]));
    close(tg.einsum('i...,i...->...', a, a), a.square().sum(0));
    close(tg.einsum('ij,kj->ik', c.T, c.T), c.T.matmul(c));
    close(tg.einsum('iij->j', tg.randn([3, 3, 2]).mul(0).add(1)), tg.full([2], 3));
    // a plain relabelling is a view, not a copy
    const t = tg.einsum('bij->jbi', a);
    expect(t.storage).toBe(a.storage);
  });
});

describe('bad input', () => {
  const m = tg.ones([2, 3]);
  it('dims out of range', () => {
    throws(() => m.cumsum(2), tg.IndexError, /^cumsum: dim 2 is out of range for a tensor of rank 2 \(expected an integer in \[-2, 1\]\)/);
    throws(() => m.cumprod(-3), tg.IndexError, /^cumprod: dim -3 is out of range/);
    throws(() => m.prod(2), tg.IndexError, /^prod: dim 2 is out of range/);
    throws(() => m.sort(5), tg.IndexError, /^sort: dim 5 is out of range/);
    throws(() => m.topk(1, 2), tg.IndexError, /^topk: dim 2 is out of range/);
    throws(() => m.argsort(-3), tg.IndexError, /^sort: dim -3 is out of range/);
    throws(() => m.var(3), tg.IndexError, /^var: dim 3 is out of range/);
    throws(() => m.std([0, 0]), tg.ValueError, /^std: dim \[0, 0\] names a dim more than once/);
    throws(() => m.norm(2, 2), tg.IndexError, /^norm: dim 2 is out of range/);
    throws(() => m.maxWithIndices(2), tg.IndexError, /^maxWithIndices: dim 2 is out of range/);
    throws(() => tg.ones([2, 0]).minWithIndices(1), tg.ValueError, /^minWithIndices: cannot reduce over dim 1 of size 0 \(shape \[2, 0\]\)/);
    throws(() => m.diagonal(0, 1, -1), tg.ValueError, /^diagonal: dim1 and dim2 must differ; both are 1 \(shape \[2, 3\]\)/);
    throws(() => tg.ones([3]).diagonal(), tg.ShapeError, /^diagonal: input must have at least 2 dims; got shape \[3\]/);
  });
  it('topk: k larger than the dim, or not an integer', () => {
    throws(() => m.topk(4), tg.IndexError, /^topk: k 4 is out of range for dim -1 of size 3 \(shape \[2, 3\]\); expected an integer in \[0, 3\]/);
    throws(() => m.topk(1.5, 0), tg.IndexError, /^topk: k 1.5 is out of range for dim 0 of size 2/);
  });
  it('dtypes and options', () => {
    const i = tg.ones([3], { dtype: 'int32' });
    throws(() => i.var(), tg.DTypeError, /^var: input must be floating point; got int32/);
    throws(() => i.std(), tg.DTypeError, /^std: input must be floating point; got int32/);
    throws(() => i.norm(), tg.DTypeError, /^norm: input must be floating point; got int32/);
    throws(() => m.var(0, { correction: 1, unbiased: true }), tg.ValueError, /^var: give correction or unbiased, not both/);
    throws(() => m.std(0, { correction: -1 }), tg.ValueError, /^std: correction must be a finite number >= 0; got -1/);
    throws(() => m.norm(NaN), tg.ValueError, /^norm: p must be a number/);
    throws(() => tg.ones([0]).norm(Infinity), tg.ValueError, /^norm: the Infinity-norm of an empty slice is undefined/);
  });
  it('bmm, baddbmm and outer name both shapes', () => {
    throws(() => tg.bmm(tg.ones([2, 3, 4]), tg.ones([2, 5, 6])), tg.ShapeError, /^bmm: shapes \[2, 3, 4\] and \[2, 5, 6\] cannot be multiplied \(3x4 and 5x6: inner dims 4 and 5 differ\)/);
    throws(() => tg.bmm(tg.ones([2, 3, 4]), tg.ones([3, 4, 6])), tg.ShapeError, /^bmm: batch sizes differ: shapes \[2, 3, 4\] and \[3, 4, 6\] \(batch 2 and 3; bmm does not broadcast\)/);
    throws(() => tg.bmm(tg.ones([3, 4]), tg.ones([4, 6])), tg.ShapeError, /^bmm: both arguments must be 3-D; got \[3, 4\] and \[4, 6\]/);
    throws(() => tg.baddbmm(tg.ones([2, 4]), tg.ones([2, 3, 4]), tg.ones([2, 4, 5])), tg.ShapeError, /^baddbmm: shapes \[2, 4\] and \[2, 3, 5\] cannot be broadcast/);
    throws(() => tg.baddbmm(tg.ones([3, 2, 3, 5]), tg.ones([2, 3, 4]), tg.ones([2, 4, 5])), tg.ShapeError, /^baddbmm: input of shape \[3, 2, 3, 5\] does not broadcast to the product's shape \[2, 3, 5\]/);
    throws(() => tg.outer(tg.ones([2, 2]), tg.ones([3])), tg.ShapeError, /^outer: both arguments must be 1-D; got \[2, 2\] and \[3\]/);
  });
  it('einsum: malformed equations and operands that do not fit them', () => {
    const [a, b] = [tg.ones([2, 3]), tg.ones([3, 4])];
    throws(() => tg.einsum('ij,jk->ik', a), tg.ValueError, /^einsum: 2 operand terms but 1 tensor given \(equation 'ij,jk->ik'\)/);
    throws(() => tg.einsum('i1,jk', a, b), tg.ValueError, /^einsum: invalid character '1' in 'i1'; subscripts are letters a-z, A-Z and '...'/);
    throws(() => tg.einsum('ij->k->i', a), tg.ValueError, /^einsum: '->' appears more than once/);
    throws(() => tg.einsum('...i...', a), tg.ValueError, /^einsum: '...i...' has more than one ellipsis/);
    throws(() => tg.einsum('ij->ik', a), tg.ValueError, /^einsum: output label 'k' does not appear in any operand \(equation 'ij->ik'\)/);
    throws(() => tg.einsum('ij->ii', a), tg.ValueError, /^einsum: output label 'i' appears more than once/);
    throws(() => tg.einsum('ijk', a), tg.ShapeError, /^einsum: operand 0 has 2 dims \(shape \[2, 3\]\) but its term 'ijk' names 3/);
    throws(() => tg.einsum('ijk...', a), tg.ShapeError, /^einsum: operand 0 has 2 dims \(shape \[2, 3\]\) but its term 'ijk...' names 3 or more/);
    throws(() => tg.einsum('ij,ik', a, b), tg.ShapeError, /^einsum: label 'i' has size 2 in operand 0 but 3 in operand 1 \(shape \[3, 4\]\); they must match or be 1 \(equation 'ij,ik'\)/);
    throws(() => tg.einsum('ii', a), tg.ShapeError, /^einsum: label 'i' is repeated in operand 0 \(shape \[2, 3\]\) over dims of sizes 2 and 3; they must be equal/);
    throws(() => tg.einsum('...,...', tg.ones([2, 3]), tg.ones([4])), tg.ShapeError, /^einsum: ellipsis dim 1 has size 3 in operand 0 but 4 in operand 1/);
  });
});
