// Forward parity of every WebGPU kernel against the CPU backend, on seeded random inputs in
// several layouts (contiguous, transposed, strided slices, broadcast) and dtypes. Tolerances:
// exact for data movement, indexing, comparisons and integer arithmetic; float32 elementwise
// within 1e-6 + 1e-5·|x| (1e-4 relative for transcendental functions, whose GPU versions are
// approximations); reductions and matmul within 1e-4 (they sum in a different order, and in
// float32 where the CPU sums in float64).
import { beforeEach, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from '@tapegrad/tensor';
import { matmulTiles } from '../src/kernels/matmul.js';
import { layouts, openDevice, parity, values } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(7));

const SHAPES = [[], [7], [3, 5], [2, 3, 4], [70, 9]];
const POSITIVE = new Set(['log', 'sqrt', 'pow']);
const TRANSCENDENTAL = new Set(['exp', 'log', 'tanh', 'sigmoid', 'pow', 'sqrt']);

gpuDescribe('elementwise', () => {
  it.each(UNARY_OPS.map((op) => [op]))('%s over dtypes and layouts', async (op) => {
    const dtypes: tg.DType[] = op === 'abs' ? ['float32', 'int32', 'bool'] : ['float32', 'int32'];
    const tol = TRANSCENDENTAL.has(op) ? { atol: 1e-6, rtol: 1e-4 } : {};
    for (const dtype of dtypes) {
      for (const shape of SHAPES) {
        for (const { label, t } of layouts(shape, values(dtype, POSITIVE.has(op)))) {
          await parity(`${op} ${dtype} ${label}`, (x) => tg[op](x), [t], tol);
        }
      }
    }
  });

  const PAIRS: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [5]], [[70, 9], [9]], [[6], []]];
  it.each(BINARY_OPS.map((op) => [op]))('%s over broadcast shapes, layouts and mixed dtypes', async (op) => {
    const tol = TRANSCENDENTAL.has(op) ? { atol: 1e-5, rtol: 1e-4 } : {};
    const combos: [tg.DType, tg.DType][] = [['float32', 'float32'], ['int32', 'int32'], ['int32', 'float32']];
    if (op === 'add' || op === 'mul' || op === 'maximum' || op === 'minimum') combos.push(['bool', 'bool'], ['bool', 'int32']);
    for (const [da, db] of combos) {
      for (const [sa, sb] of PAIRS) {
        for (const { label, t: a } of layouts(sa, values(da, POSITIVE.has(op)))) {
          const b = op === 'pow' ? (db === 'int32' ? tg.randint(0, 4, sb) : tg.rand(sb).mul(3)) : values(db, op === 'div')(sb);
          await parity(`${op} ${da} ${label} with ${db} ${JSON.stringify(sb)}`, (x, y) => tg[op](x, y), [a, b], tol);
        }
      }
    }
    await parity(`${op} with a number`, (x) => tg[op](x, 3), [tg.rand([4, 5]).add(0.5)], tol);
  });

  it.each(COMPARE_OPS.map((op) => [op]))('%s, ints with ties and floats with NaN', async (op) => {
    for (const [da, db] of [['int32', 'int32'], ['float32', 'int32'], ['bool', 'bool']] as [tg.DType, tg.DType][]) {
      for (const { label, t } of layouts([4, 6], values(da))) {
        await parity(`${op} ${da} ${label}`, (x, y) => tg[op](x, y), [t, values(db)([6])]);
      }
    }
    const nan = tg.tensor([1, NaN, 3, NaN, -Infinity, 0]);
    await parity(`${op} with NaN`, (x, y) => tg[op](x, y), [nan, tg.tensor([1, 1, NaN, NaN, -Infinity, -0])]);
  });

  it('NaN and infinities propagate like the CPU kernels', async () => {
    const special = tg.tensor([NaN, Infinity, -Infinity, 0, -0, 2.5, -2.5, 1e30, -1e30]);
    for (const op of UNARY_OPS) await parity(`${op} special`, (x) => tg[op](x), [special]);
    await parity('maximum NaN', (x) => tg.maximum(x, 1), [special]);
    await parity('minimum NaN', (x) => tg.minimum(x, 1), [special]);
    await parity('clamp NaN', (x) => tg.clamp(x, -1, 1), [special]);
    await parity('pow negative base', (x, y) => tg.pow(x, y), [tg.tensor([-2, -2, -2, -8, 0, 0, 3]), tg.tensor([2, 3, 0.5, -1, 0, -1, 0.5])]);
  });

  it('clamp with one or two bounds, integer and fractional', async () => {
    for (const { label, t } of layouts([5, 6], values('float32'))) {
      await parity(`clamp ${label}`, (x) => tg.clamp(x, -0.5, 1), [t]);
      await parity(`clamp min ${label}`, (x) => tg.clamp(x, 0), [t]);
      await parity(`clamp max ${label}`, (x) => tg.clamp(x, undefined, 0.25), [t]);
    }
    await parity('clamp int', (x) => tg.clamp(x, -2, 3), [tg.randint(-6, 7, [4, 5])]);
    await parity('clamp int fractional', (x) => tg.clamp(x, -2.5, 3), [tg.randint(-6, 7, [4, 5])]);
  });

  it('where over broadcast condition and branches', async () => {
    for (const { label, t } of layouts([3, 4], values('bool'))) {
      await parity(`where ${label}`, (c, a, b) => tg.where(c, a, b), [t, tg.randn([4]), tg.randn([3, 1])]);
      await parity(`where int/float ${label}`, (c, a, b) => tg.where(c, a, b), [t, tg.randint(0, 5, [3, 4]), tg.randn([])]);
    }
    await parity('where scalar', (c, a) => tg.where(c, a, 0), [tg.randint(0, 2, [2, 3]).cast('bool'), tg.randn([2, 3])]);
  });

  it('copy/cast between every pair of GPU dtypes, from any layout', async () => {
    const dtypes: tg.DType[] = ['float32', 'int32', 'bool'];
    for (const from of dtypes) {
      for (const to of dtypes) {
        for (const { label, t } of layouts([3, 7], from === 'float32' ? (s) => tg.randn(s).mul(3) : values(from))) {
          await parity(`cast ${from}->${to} ${label}`, (x) => (x.dtype === to ? x.clone() : x.cast(to)), [t]);
          await parity(`contiguous ${from} ${label}`, (x) => x.contiguous().clone(), [t]);
        }
      }
    }
    // the ends of int32's range that float32 holds (2147483520 is the largest float32 below 2^31)
    await parity('cast special', (x) => x.cast('int32'), [tg.tensor([2147483520, -2147483648, 2.7, -2.7, 0.5, -0.5])]);
    await parity('cast special bool', (x) => x.cast('bool'), [tg.tensor([NaN, 0, -0, 0.5, -Infinity])]);
  });

  it('in-place ops and copy_ into strided views', async () => {
    await parity('add_', (x, y) => x.clone().add_(y), [tg.randn([4, 5]), tg.randn([5])]);
    await parity('copy_ into a transposed view', (x, y) => {
      const d = x.clone();
      d.T.copy_(y);
      return d;
    }, [tg.randn([4, 5]), tg.randn([5, 4])]);
    await parity('copy_ into a slice, broadcast and cast', (x, y) => {
      const d = x.clone();
      d.narrow(1, 1, 3).copy_(y);
      return d;
    }, [tg.randn([4, 5]), tg.randint(0, 9, [3])]);
    await parity('fill_', (x) => x.clone().fill_(2.5), [tg.randn([3, 3])]);
  });
});

gpuDescribe('reductions', () => {
  const CASES: [number[], number | number[] | undefined][] = [
    [[6], undefined], [[6], 0], [[3, 5], 1], [[3, 5], 0], [[4, 3, 70], -1], [[4, 3, 70], [0, 2]], [[4, 3, 70], undefined],
    [[2, 300], 1], [[300, 2], 0], [[5, 7], []], [[2, 0, 3], 1],
  ];
  for (const op of ['sum', 'max', 'min'] as const) {
    it(`${op} over dims, keepdim, layouts and dtypes`, async () => {
      for (const dtype of (op === 'sum' ? ['float32', 'int32', 'bool'] : ['float32', 'int32']) as tg.DType[]) {
        for (const [shape, dim] of CASES) {
          if (op !== 'sum' && shape.includes(0)) continue;
          for (const { label, t } of layouts(shape, values(dtype))) {
            for (const keepdim of [false, true]) {
              await parity(`${op} ${dtype} ${label} dim=${JSON.stringify(dim)} keepdim=${keepdim}`, (x) => tg[op](x, dim, keepdim), [t], { atol: 1e-4, rtol: 1e-4 });
            }
          }
        }
      }
    });
  }
  for (const op of ['argmax', 'argmin'] as const) {
    it(`${op}: first index on ties, NaN wins, any layout`, async () => {
      for (const [shape, dim] of [[[6], 0], [[3, 5], 1], [[3, 5], 0], [[4, 3, 70], -1], [[2, 300], 1], [[4, 5], undefined]] as [number[], number | undefined][]) {
        for (const { label, t } of layouts(shape, (s) => tg.randint(0, 3, s))) {
          await parity(`${op} ${label} dim=${dim}`, (x) => tg[op](x, dim), [t]);
        }
        for (const { label, t } of layouts(shape, values('float32'))) {
          await parity(`${op} float ${label} dim=${dim}`, (x) => tg[op](x, dim, true), [t]);
        }
      }
      await parity(`${op} NaN`, (x) => tg[op](x, 1), [tg.tensor([[1, NaN, 3, NaN], [-Infinity, -Infinity, 2, 2]])]);
      const long = tg.randn([2, 100]);
      await parity(`${op} NaN long`, (x) => tg[op](x.where(x.lt(1.5), NaN), 1), [long]);
    });
  }
  it('max/min propagate NaN, over short and long lines', async () => {
    for (const n of [5, 100]) {
      const x = tg.randn([3, n]);
      await parity(`max NaN ${n}`, (v) => tg.max(v.where(v.lt(1.2), NaN), 1), [x]);
      await parity(`min NaN ${n}`, (v) => tg.min(v.where(v.lt(1.2), NaN), 1), [x]);
    }
  });
  it('more than 65,535 workgroups (one per line) fold into a 2-D grid', async () => {
    await parity('sum of 65,600 lines', (x) => tg.sum(x, 1), [tg.randn([65600, 33])], { atol: 1e-4, rtol: 1e-4 });
  });
  it('mean and logsumexp (composites over sum and max)', async () => {
    await parity('mean', (x) => tg.mean(x, [0, 2]), [tg.randn([3, 4, 5])], { atol: 1e-5, rtol: 1e-4 });
    await parity('logsumexp', (x) => tg.logsumexp(x, 1), [tg.randn([3, 40])], { atol: 1e-5, rtol: 1e-4 });
  });
});

gpuDescribe('matmul', () => {
  const CASES: [number[], number[]][] = [
    [[3, 4], [4, 5]], [[1, 7], [7, 1]], [[33, 40], [40, 18]], [[2, 3, 17], [17, 20]], [[2, 1, 5, 6], [3, 6, 4]],
    [[5], [5, 3]], [[4, 5], [5]], [[2, 0], [0, 3]], [[64, 100], [100, 10]],
  ];
  it('batched, broadcast and 1-d operands, transposed views', async () => {
    for (const [sa, sb] of CASES) {
      for (const { label, t: a } of layouts(sa, (s) => tg.randn(s))) {
        for (const { label: lb, t: b } of layouts(sb, (s) => tg.randn(s)).slice(0, 2)) {
          await parity(`matmul ${label} @ ${lb}`, (x, y) => tg.matmul(x, y), [a, b], { atol: 1e-4, rtol: 1e-4 });
        }
      }
    }
  });
  it('large products (8x8 per thread), ragged edges, batched and transposed', async () => {
    for (const [sa, sb] of [[[257, 40], [40, 260]], [[2, 300, 19], [19, 230]]] as [number[], number[]][]) {
      for (const { label, t: a } of layouts(sa, (s) => tg.randn(s)).slice(0, 2)) {
        await parity(`matmul ${label} @ ${JSON.stringify(sb)}`, (x, y) => tg.matmul(x, y), [a, tg.randn(sb)], { atol: 1e-4, rtol: 1e-4 });
      }
    }
    await parity('large int matmul', (x, y) => tg.matmul(x, y), [tg.randint(-5, 5, [260, 33]), tg.randint(-5, 5, [33, 256])]);
  });
  it('every register tile the output shape picks: the MNIST step\'s products (long K, transposed operands), skinny and ragged outputs', async () => {
    // [m, k, n, A read transposed, B read transposed]
    const cases: [number, number, number, boolean, boolean][] = [
      [64, 784, 128, false, true], [128, 64, 784, true, false], [64, 128, 784, false, false], [64, 128, 10, false, true],
      [10, 64, 128, true, false], [64, 10, 128, false, false], [130, 37, 9, false, false], [33, 300, 18, true, true], [3, 5, 2, false, false],
    ];
    const tiles = new Set(cases.map(([m, , n]) => matmulTiles(m, n, 1).join('x')));
    expect([...tiles].sort()).toEqual(['1x1', '2x2', '2x4', '4x2', '4x8', '8x8']);
    for (const [m, k, n, ta, tb] of cases) {
      const a = ta ? tg.randn([k, m]).T : tg.randn([m, k]);
      const b = tb ? tg.randn([n, k]).T : tg.randn([k, n]);
      await parity(`matmul ${m}x${k}${ta ? 'ᵀ' : ''} @ ${k}x${n}${tb ? 'ᵀ' : ''}`, (x, y) => tg.matmul(x, y), [a, b], { atol: 1e-4, rtol: 1e-4 });
    }
  });
  it('int32 and mixed dtypes', async () => {
    await parity('int matmul', (x, y) => tg.matmul(x, y), [tg.randint(-5, 5, [6, 7]), tg.randint(-5, 5, [7, 3])]);
    await parity('int @ float', (x, y) => tg.matmul(x, y), [tg.randint(-5, 5, [6, 7]), tg.randn([7, 3])], { atol: 1e-4, rtol: 1e-4 });
  });
});

gpuDescribe('softmax', () => {
  for (const op of ['softmax', 'logSoftmax'] as const) {
    it(`${op} along any dim, short and long rows, any layout`, async () => {
      for (const [shape, dim] of [[[3, 5], 1], [[3, 5], 0], [[2, 3, 300], -1], [[2, 40, 3], 1], [[], 0], [[7], 0]] as [number[], number][]) {
        for (const { label, t } of layouts(shape, (s) => tg.randn(s).mul(5))) {
          await parity(`${op} ${label} dim=${dim}`, (x) => tg[op](x, dim), [t], { atol: 1e-5, rtol: 1e-4 });
        }
      }
      await parity(`${op} large logits and -inf`, (x) => tg[op](x, 1), [tg.tensor([[1000, 0, -1000], [-Infinity, 0, 1], [-Infinity, -Infinity, -Infinity]])], { atol: 1e-5, rtol: 1e-4 });
      await parity(`${op} long row with -inf`, (x) => tg[op](x.where(x.gt(-1), -Infinity), 1), [tg.randn([2, 100])], { atol: 1e-5, rtol: 1e-4 });
    });
  }
});

gpuDescribe('indexing and joining', () => {
  it('gather along every dim, strided input and index', async () => {
    for (const dim of [0, 1, 2]) {
      for (const { label, t } of layouts([4, 5, 6], values('float32'))) {
        const shape = [3, 4, 5];
        const size = [4, 5, 6][dim]!;
        await parity(`gather dim=${dim} ${label}`, (x, i) => tg.gather(x, dim, i), [t, tg.randint(0, size, shape)]);
        await parity(`gather dim=${dim} ${label} transposed index`, (x, i) => tg.gather(x, dim, i.transpose(0, 2)), [t, tg.randint(0, size, [5, 4, 3])]);
      }
    }
    await parity('gather int', (x, i) => tg.gather(x, 1, i), [tg.randint(0, 100, [3, 8]), tg.randint(0, 8, [3, 2])]);
  });
  it('scatterAdd with repeated indices, strided operands', async () => {
    for (const dim of [0, 1]) {
      for (const { label, t } of layouts([5, 6], values('float32'))) {
        const size = [5, 6][dim]!;
        await parity(`scatterAdd dim=${dim} ${label}`, (x, i, s) => tg.scatterAdd(x, dim, i, s), [t, tg.randint(0, size, [4, 5]), tg.randn([4, 7]).narrow(1, 1, 5)]);
      }
    }
    await parity('scatterAdd int', (x, i, s) => tg.scatterAdd(x, 0, i, s), [tg.zeros([4], { dtype: 'int32' }), tg.tensor([1, 1, 3, 1], { dtype: 'int32' }), tg.tensor([1, 2, 3, 4], { dtype: 'int32' })]);
  });
  it('indexSelect with 1-d and 0-d indices', async () => {
    for (const dim of [0, 1, -1]) {
      for (const { label, t } of layouts([5, 4, 3], values('float32'))) {
        const size = [5, 4, 3].at(dim)!;
        await parity(`indexSelect dim=${dim} ${label}`, (x, i) => tg.indexSelect(x, dim, i), [t, tg.randint(0, size, [7])]);
        await parity(`indexSelect dim=${dim} ${label} strided index`, (x, i) => tg.indexSelect(x, dim, i.slice(0, 0, undefined, 2)), [t, tg.randint(0, size, [7])]);
      }
    }
    await parity('indexSelect 0-d index', (x, i) => tg.indexSelect(x, 0, i), [tg.randn([4, 2]), tg.tensor(2, { dtype: 'int32' })]);
  });
  it('oneHot', async () => {
    await parity('oneHot', (i) => tg.oneHot(i, 6), [tg.randint(0, 6, [4, 5])]);
    await parity('oneHot strided', (i) => tg.oneHot(i.T, 6), [tg.randint(0, 6, [4, 5])]);
  });
  it('cat and stack over dims, layouts and dtypes', async () => {
    for (const dim of [0, 1, -1]) {
      const a = layouts([3, 4], values('float32'));
      const b = layouts([3, 4], values('int32'));
      for (let k = 0; k < a.length; k++) {
        await parity(`cat dim=${dim} ${a[k]!.label}`, (x, y, z) => tg.cat([x, y, z], dim), [a[k]!.t, b[k]!.t, a[(k + 1) % a.length]!.t]);
      }
      await parity(`stack dim=${dim}`, (x, y) => tg.stack([x, y], dim), [tg.randn([2, 3]), tg.randn([2, 3])]);
    }
  });
});
