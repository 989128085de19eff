import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../src/index.js';
import { decode, expectClose, throws, type Encoded } from './helpers.js';

// The shape ops of issue 16: indexing views (select, index, split, chunk, unbind), maskedSelect,
// copies that rearrange (repeat, tile, flip, roll, pad), linspace/logspace, randperm and
// multinomial. Forward values and gradients against PyTorch (fixtures/gen_i16-shape.py wrote
// fixtures/i16-shape.json with Debian's torch 1.13), finite differences in float64, which
// results are views, the distributions of the random ones, and bad input.
interface Case {
  inputs: Encoded[];
  outputs: Encoded[];
  seeds?: Encoded[];
  grads: (Encoded | null)[] | null;
}
const cases: Record<string, Case> = JSON.parse(readFileSync(new URL('./fixtures/i16-shape.json', import.meta.url), 'utf8'));
type T = tg.Tensor;
const f64 = { dtype: 'float64' as const };

const calls: Record<string, (...xs: T[]) => T | T[]> = {
  select: (x) => x.select(1, -1),
  select_dim0: (x) => tg.select(x, 0, 1),
  select_int: (x) => x.select(1, 0),
  index: (x) => x.index(1, 2),
  index_all: (x) => tg.index(x, -1, 0, 3),
  split: (x) => x.split(2, 1),
  split_sizes: (x) => tg.split(x, [1, 0, 3], -1),
  split_even: (x) => x.split(2),
  chunk: (x) => x.chunk(3, 1),
  chunk_fewer: (x) => tg.chunk(x, 4),
  unbind: (x) => x.unbind(1),
  unbind_dim0: (x) => tg.unbind(x),
  masked_select: (x, m) => tg.maskedSelect(x, m!),
  masked_select_bcast_mask: (x, m) => x.maskedSelect(m!),
  masked_select_bcast_x: (x, m) => tg.maskedSelect(x, m!),
  masked_select_int: (x, m) => tg.maskedSelect(x, m!),
  masked_select_none: (x, m) => tg.maskedSelect(x, m!),
  repeat: (x) => x.repeat(2, 1, 3),
  repeat_same_rank: (x) => tg.repeat(x, [1, 2]),
  repeat_zero: (x) => x.repeat([0, 2]),
  repeat_0d: (x) => x.repeat(3),
  tile: (x) => x.tile(2),
  tile_more: (x) => tg.tile(x, [2, 1, 2]),
  flip: (x) => x.flip(0, 2),
  flip_neg: (x) => tg.flip(x, -1),
  flip_int: (x) => x.flip([1]),
  roll_flat: (x) => x.roll(5),
  roll_dims: (x) => tg.roll(x, [1, -2], [0, 2]),
  roll_big_shift: (x) => x.roll(11, 1),
  roll_same_dim_twice: (x) => x.roll([1, 2], [1, 1]),
  pad_constant: (x) => tg.pad(x, [1, 2, 0, 1], { value: 0.5 }),
  pad_constant_3d: (x) => tg.pad(x, [1, 0, 2, 1, 1, 1]),
  pad_crop: (x) => tg.pad(x, [-1, 2]),
  pad_crop_both: (x) => tg.pad(x, [-1, -1, 1, -1]),
  pad_int: (x) => tg.pad(x, [2, 1], { value: 7 }),
  pad_bool: (x) => tg.pad(x, [1, 1], { value: 1 }),
  pad_reflect: (x) => tg.pad(x, [2, 3], { mode: 'reflect' }),
  pad_reflect_2d: (x) => tg.pad(x, [3, 1, 1, 2], { mode: 'reflect' }),
  pad_reflect_crop: (x) => tg.pad(x, [-1, 2], { mode: 'reflect' }),
  pad_replicate: (x) => tg.pad(x, [3, 1], { mode: 'replicate' }),
  pad_replicate_2d: (x) => tg.pad(x, [2, 5, 4, 1], { mode: 'replicate' }),
  pad_replicate_crop: (x) => tg.pad(x, [-1, 5], { mode: 'replicate' }),
  pad_circular: (x) => tg.pad(x, [4, 3], { mode: 'circular' }),
  pad_circular_2d: (x) => tg.pad(x, [1, 4, 3, 2], { mode: 'circular' }),
  linspace: () => tg.linspace(-1, 2.5, 7),
  linspace_down: () => tg.linspace(3, -2, 6),
  linspace_long: () => tg.linspace(-3.7, 11.3, 101),
  linspace_one: () => tg.linspace(2, 5, 1),
  linspace_empty: () => tg.linspace(2, 5, 0),
  linspace_int: () => tg.linspace(0, 10, 4, { dtype: 'int32' }),
  linspace_f64: () => tg.linspace(-1, 1, 9, f64),
  logspace: () => tg.logspace(0, 2, 3),
  logspace_base2: () => tg.logspace(-1, 3, 9, 2),
  logspace_f64: () => tg.logspace(-2, 1, 7, 10, f64),
};

describe('shape ops against PyTorch', () => {
  it('covers every case in the fixture', () => {
    expect(Object.keys(cases).filter((k) => !calls[k])).toEqual([]);
  });
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      tg.tidy(() => {
        const inputs = c.inputs.map((e) => decode(e, c.grads !== null));
        const result = calls[name]!(...inputs);
        const outs = Array.isArray(result) ? result : [result];
        expect(outs.length, `${name}: number of outputs`).toBe(c.outputs.length);
        outs.forEach((out, k) => {
          const want = c.outputs[k]!;
          expect(out.shape).toEqual(want.shape);
          expect(out.dtype).toBe(want.dtype);
          // float32 results (linspace, logspace) may differ from torch's vectorised kernels in the last bit
          const tol = out.dtype === 'float32' ? 1e-6 : 1e-12;
          expectClose(out.dataSync(), want.data, tol, tol, `${name} output ${k}`);
        });
        if (c.grads && c.seeds) {
          outs.reduce((acc, out, k) => acc.add(out.mul(decode(c.seeds![k]!)).sum()), tg.zeros([], f64)).backward();
          c.grads.forEach((g, i) => {
            if (!g) return expect(inputs[i]!.grad).toBeNull();
            expectClose(inputs[i]!.grad!.dataSync(), g.data, 1e-12, 1e-12, `${name} grad ${i}`);
          });
        }
      });
    });
  }
});

tg.manualSeed(16);
const rnd = (shape: number[]) => tg.randn(shape, f64).requiresGrad_();
const mask = (shape: number[]) => tg.rand(shape).gt(0.5);
/** The sum of the pieces, weighted differently, so each piece's gradient is checked. */
const weighted = (pieces: T[]) => tg.cat(pieces.map((p, k) => p.mul(k + 1).reshape([-1])));

describe('gradcheck in float64', () => {
  const fixedMask = mask([3, 4]);
  const cases: [string, (...xs: T[]) => T, () => T[]][] = [
    ['select', (x) => x.select(1, -2), () => [rnd([2, 3, 2])]],
    ['index, two dims', (x) => x.index(1, 0), () => [rnd([2, 3, 2])]],
    ['split by size', (x) => weighted(x.split(2, 1)), () => [rnd([2, 5])]],
    ['split by sizes, a piece unused', (x) => x.split([1, 2, 2], 0)[1]!.mul(3), () => [rnd([5, 2])]],
    ['chunk', (x) => weighted(x.chunk(3, -1)), () => [rnd([3, 7])]],
    ['unbind, one slice unused', (x) => weighted(x.unbind(1).slice(1)), () => [rnd([2, 4, 2])]],
    ['maskedSelect', (x) => x.maskedSelect(fixedMask), () => [rnd([3, 4])]],
    ['maskedSelect, x broadcast', (x) => tg.maskedSelect(x, fixedMask), () => [rnd([4])]],
    ['repeat, more repeats than dims', (x) => x.repeat(2, 3, 1), () => [rnd([2, 3])]],
    ['tile', (x) => x.tile(2), () => [rnd([3, 2])]],
    ['flip', (x) => x.flip(0, 2), () => [rnd([2, 3, 2])]],
    ['roll, flattened', (x) => x.roll(-4), () => [rnd([3, 3])]],
    ['roll, two dims', (x) => x.roll([1, 2], [0, -1]), () => [rnd([3, 4])]],
    ['pad constant (a view of the gradient)', (x) => tg.pad(x, [1, 2, 2, 0], { value: 3 }), () => [rnd([2, 3, 2])]],
    ['pad constant, cropping', (x) => tg.pad(x, [-1, 2, 1, -1]), () => [rnd([3, 4])]],
    ['pad reflect', (x) => tg.pad(x, [2, 3], { mode: 'reflect' }), () => [rnd([2, 4])]],
    ['pad reflect, two dims, cropping', (x) => tg.pad(x, [-1, 2, 2, 1], { mode: 'reflect' }), () => [rnd([2, 3, 4])]],
    ['pad replicate, two dims', (x) => tg.pad(x, [3, 1, 1, 4], { mode: 'replicate' }), () => [rnd([1, 3, 3])]],
    ['pad replicate, size 1', (x) => tg.pad(x, [2, 3], { mode: 'replicate' }), () => [rnd([2, 1])]],
    ['pad circular, two dims', (x) => tg.pad(x, [3, 2, 1, 3], { mode: 'circular' }), () => [rnd([2, 3, 3])]],
    ['pad of a transposed view', (x) => tg.pad(x.T, [1, 1, 2, 0], { mode: 'reflect' }), () => [rnd([4, 3])]],
  ];
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      tg.tidy(() => {
        expect(tg.gradcheck(fn, inputs())).toBe(true);
      });
    });
  }
});

describe('views and copies', () => {
  it('select, index, split, chunk and unbind are views: writes go through to the input', () => {
    const x = tg.zeros([3, 4]);
    x.select(0, 1).fill_(1);
    x.index(2, -1).fill_(2);
    x.split([1, 3], 1)[1]!.select(0, 0).add_(3);
    x.chunk(2, 1)[0]!.select(1, 0).add_(4);
    x.unbind(1)[2]!.add_(5);
    expect(x.arraySync()).toEqual([[4, 3, 8, 3], [5, 1, 6, 1], [4, 0, 5, 2]]);
  });
  it('unbind of an empty dim gives no tensors; chunk of an empty dim gives empty chunks, as torch', () => {
    expect(tg.zeros([0, 3]).unbind(0)).toEqual([]);
    expect(tg.zeros([0, 3]).chunk(3).map((t) => t.shape)).toEqual([[0, 3], [0, 3], [0, 3]]);
  });
  it('repeat, tile, flip, roll and pad always copy, even when nothing moves', () => {
    const x = tg.arange(6).reshape(2, 3);
    for (const y of [x.repeat(1, 1), x.tile(1), x.flip([]), x.roll(0), x.roll(3, 1), tg.pad(x, [0, 0]), tg.pad(x, [-1, 0, 0, 0])]) {
      expect(y.storage).not.toBe(x.storage);
      y.fill_(-1);
    }
    expect(x.arraySync()).toEqual([[0, 1, 2], [3, 4, 5]]);
  });
  it('maskedSelectAsync gives what maskedSelect gives', async () => {
    const x = tg.randn([3, 5]);
    const m = mask([5]);
    expect(Array.from(await (await tg.maskedSelectAsync(x, m)).data())).toEqual(Array.from(tg.maskedSelect(x, m).dataSync()));
  });
});

describe('randperm', () => {
  it('is a permutation of 0..n-1, int32 unless asked, seeded', () => {
    tg.manualSeed(3);
    const p = tg.randperm(1000);
    expect(p.dtype).toBe('int32');
    expect(Array.from(p.dataSync()).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    tg.manualSeed(3);
    expect(Array.from(tg.randperm(1000).dataSync())).toEqual(Array.from(p.dataSync()));
    expect(Array.from(p.dataSync().slice(0, 20))).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    const g = new tg.Generator(9);
    const f = tg.randperm(10, { generator: g, dtype: 'float64' });
    expect(f.dtype).toBe('float64');
    expect(Array.from(f.dataSync())).toEqual(Array.from(new tg.Generator(9).permutation(10)));
    expect(tg.randperm(0).shape).toEqual([0]);
  });
});

describe('multinomial', () => {
  const frequencies = (samples: ArrayLike<number>, categories: number) => {
    const counts = new Array<number>(categories).fill(0);
    for (let i = 0; i < samples.length; i++) counts[samples[i]!]!++;
    return counts.map((c) => c / samples.length);
  };
  /** Within 5 standard deviations of the expected frequency of n draws (the seed is fixed: this is not flaky). */
  const expectFrequencies = (got: number[], want: number[], n: number) => {
    got.forEach((f, i) => expect(Math.abs(f - want[i]!), `category ${i}: ${f} vs ${want[i]}`).toBeLessThanOrEqual(5 * Math.sqrt((want[i]! * (1 - want[i]!)) / n) + 1e-12));
  };

  it('with replacement: frequencies follow the weights, which need not sum to 1; zero weight is never drawn', () => {
    tg.manualSeed(21);
    const n = 40000;
    for (const dtype of ['float32', 'float64'] as const) {
      const s = tg.multinomial(tg.tensor([1, 0, 2, 3, 4], { dtype }), n, { replacement: true });
      expect(s.dtype).toBe('int32');
      expect(s.shape).toEqual([n]);
      expectFrequencies(frequencies(s.dataSync(), 5), [0.1, 0, 0.2, 0.3, 0.4], n);
    }
  });
  it('without replacement: distinct samples, the first distributed as the weights, the second as p_j Σ_i p_i / (1 − p_i)', () => {
    tg.manualSeed(22);
    const p = [0.5, 0.3, 0.15, 0.05];
    const rows = 20000;
    const s = tg.multinomial(tg.tensor(p).reshape(1, 4).expand(rows, 4), 2);
    expect(s.shape).toEqual([rows, 2]);
    const d = s.dataSync();
    const first: number[] = [];
    const second: number[] = [];
    for (let r = 0; r < rows; r++) {
      expect(d[2 * r]).not.toBe(d[2 * r + 1]);
      first.push(d[2 * r]!);
      second.push(d[2 * r + 1]!);
    }
    expectFrequencies(frequencies(first, 4), p, rows);
    const secondWant = p.map((pj, j) => p.reduce((acc, pi, i) => (i === j ? acc : acc + (pi * pj) / (1 - pi)), 0));
    expectFrequencies(frequencies(second, 4), secondWant, rows);
  });
  it('without replacement, all categories: a permutation that leaves the zero-weight ones last', () => {
    tg.manualSeed(23);
    const s = tg.multinomial(tg.tensor([[0, 1, 1, 0, 1], [2, 0, 0, 0, 0]]), 1);
    expect(s.arraySync()).toEqual([[expect.any(Number)], [0]]);
    const all = tg.multinomial(tg.tensor([3, 0, 1, 2]), 3);
    expect(Array.from(all.dataSync()).sort()).toEqual([0, 2, 3]);
  });
  it('2-d: each row its own distribution', () => {
    tg.manualSeed(24);
    const s = tg.multinomial(tg.tensor([[0, 0, 1], [1, 0, 0], [0, 5, 0]]), 6, { replacement: true });
    expect(s.arraySync()).toEqual([[2, 2, 2, 2, 2, 2], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]]);
  });
  it('the same seed or generator gives the same samples, bit for bit; another seed others', () => {
    const probs = tg.rand([4, 50]);
    const draw = (seed: number, replacement: boolean) => {
      tg.manualSeed(seed);
      return Array.from(probs.multinomial(10, { replacement }).dataSync());
    };
    for (const replacement of [false, true]) {
      expect(draw(5, replacement)).toEqual(draw(5, replacement));
      expect(draw(5, replacement)).not.toEqual(draw(6, replacement));
      const a = tg.multinomial(probs, 10, { replacement, generator: new tg.Generator(8) });
      const b = tg.multinomial(probs, 10, { replacement, generator: new tg.Generator(8) });
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    }
  });
  it('an empty batch of rows gives an empty result', () => {
    expect(tg.multinomial(tg.ones([0, 3]), 2).shape).toEqual([0, 2]);
  });
});

describe('bad input', () => {
  const x = tg.zeros([2, 3]);
  it('select and index', () => {
    throws(() => tg.zeros([]).select(0, 0), tg.IndexError, 'select: cannot select from a 0-d tensor');
    throws(() => x.select(2, 0), tg.IndexError, /^select: dim 2 is out of range for a tensor of rank 2/);
    throws(() => x.select(1, 3), tg.IndexError, 'select: index 3 is out of range for dim 1 of size 3 (shape [2, 3])');
    throws(() => x.select(0, -3), tg.IndexError, 'select: index -3 is out of range for dim 0 of size 2 (shape [2, 3])');
    throws(() => x.select(0, 0.5), tg.IndexError, /^select: index 0.5 is out of range/);
    throws(() => x.index(0, 0, 0), tg.IndexError, 'index: 3 indices for a tensor of rank 2 (shape [2, 3])');
    throws(() => x.index(0, 5), tg.IndexError, 'select: index 5 is out of range for dim 0 of size 3 (shape [3])');
  });
  it('split, chunk and unbind', () => {
    throws(() => x.split(0, 1), tg.ValueError, 'split: splitSize must be a positive integer (0 only for a dim of size 0); got 0 for dim 1 of size 3');
    throws(() => x.split(-1), tg.ValueError, /^split: splitSize must be a positive integer/);
    throws(() => x.split([1, 1], 1), tg.ShapeError, 'split: sizes [1, 1] sum to 2, but dim 1 has size 3 (shape [2, 3])');
    throws(() => x.split([4, -1], 1), tg.ValueError, 'split: sizes must be non-negative integers; got [4, -1]');
    throws(() => tg.zeros([]).split(1), tg.ShapeError, 'split: cannot split a 0-d tensor');
    throws(() => x.chunk(0), tg.ValueError, 'chunk: chunks must be a positive integer; got 0');
    throws(() => tg.zeros([]).unbind(), tg.IndexError, 'unbind: cannot unbind a 0-d tensor');
    throws(() => x.unbind(2), tg.IndexError, /^unbind: dim 2 is out of range/);
  });
  it('maskedSelect', () => {
    throws(() => x.maskedSelect(tg.ones([3])), tg.DTypeError, 'maskedSelect: mask must be a bool tensor; got float32');
    throws(() => x.maskedSelect(mask([2])), tg.ShapeError, /^maskedSelect: shapes \[2, 3\] and \[2\] cannot be broadcast/);
  });
  it('repeat, tile, flip and roll', () => {
    throws(() => x.repeat(2), tg.ShapeError, 'repeat: 1 repeats [2] for a tensor of 2 dims (shape [2, 3]); give one per dim at least');
    throws(() => x.repeat(2, -1), tg.ValueError, 'repeat: repeats must be non-negative integers; got [2, -1]');
    throws(() => x.tile(1.5), tg.ValueError, /^repeat: repeats must be non-negative integers/);
    throws(() => x.flip(0, -2), tg.ValueError, 'flip: dims [0, -2] name a dim more than once');
    throws(() => x.flip(2), tg.IndexError, /^flip: dim 2 is out of range/);
    throws(() => x.roll([1, 2], [0]), tg.ValueError, 'roll: shifts [1, 2] and dims [0] must have the same length');
    throws(() => x.roll([1, 2]), tg.ValueError, 'roll: without dims, shifts must be one number (the tensor is rolled flattened); got [1, 2]');
    throws(() => x.roll(0.5, 0), tg.ValueError, 'roll: shifts must be integers; got [0.5]');
  });
  it('pad', () => {
    throws(() => tg.pad(x, [1]), tg.ValueError, 'pad: padding must list (before, after) pairs; got 1 numbers [1]');
    throws(() => tg.pad(x, [1, 1, 1, 1, 1, 1]), tg.ValueError, 'pad: padding [1, 1, 1, 1, 1, 1] pads 3 dims, but the input has 2 (shape [2, 3])');
    throws(() => tg.pad(x, [1, 0.5]), tg.ValueError, 'pad: padding must be integers; got [1, 0.5]');
    throws(() => tg.pad(x, [1, 1], { mode: 'wrap' as tg.PadMode }), tg.ValueError, "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'; got 'wrap'");
    throws(() => tg.pad(x, [1, 1], { mode: 'reflect', value: 1 }), tg.ValueError, "pad: value is used only by mode 'constant'; got value 1 with mode 'reflect'");
    throws(() => tg.pad(x, [-2, -2]), tg.ShapeError, 'pad: padding (-2, -2) of dim 1 (size 3, input shape [2, 3]) gives a negative size -1');
    throws(() => tg.pad(x, [3, 0], { mode: 'reflect' }), tg.ValueError, 'pad: padding (3, 0) of dim 1 (size 3, input shape [2, 3]): reflect padding must be smaller than the dim');
    throws(() => tg.pad(x, [0, 4], { mode: 'circular' }), tg.ValueError, 'pad: padding (0, 4) of dim 1 (size 3, input shape [2, 3]): circular padding must be in [0, 3] (at most one wrap, no cropping)');
    throws(() => tg.pad(x, [-1, 1], { mode: 'circular' }), tg.ValueError, /^pad: padding \(-1, 1\) of dim 1 .*circular padding must be in \[0, 3\]/);
    throws(() => tg.pad(tg.zeros([2, 0]), [1, 1], { mode: 'replicate' }), tg.ShapeError, "pad: padding (1, 1) of dim 1 (size 0, input shape [2, 0]): mode 'replicate' cannot pad an empty dim");
    throws(() => tg.pad(tg.zeros([2], { dtype: 'int32' }), [1, 1], { value: 2 ** 31 }), tg.ValueError, /^pad: value 2147483648 cannot be converted to int32/);
  });
  it('linspace, logspace and randperm', () => {
    throws(() => tg.linspace(0, 1, -1), tg.ValueError, 'linspace: steps must be a non-negative integer; got -1');
    throws(() => tg.logspace(0, 1, 2.5), tg.ValueError, 'logspace: steps must be a non-negative integer; got 2.5');
    throws(() => tg.linspace(0, 1, 2, { dtype: 'bool' }), tg.DTypeError, 'linspace: dtype must be a number type; got bool');
    throws(() => tg.linspace(0, 3e9, 2, { dtype: 'int32' }), tg.ValueError, /^linspace: value 3000000000 cannot be converted to int32/);
    throws(() => tg.randperm(-1), tg.ValueError, 'randperm: n must be a non-negative integer; got -1');
    throws(() => tg.randperm(3, { dtype: 'bool' }), tg.DTypeError, 'randperm: dtype must be a number type; got bool');
    throws(() => tg.randperm(2 ** 24 + 1, { dtype: 'float32' }), tg.ValueError, 'randperm: n = 16777217 is past 2^24, the last integer float32 holds exactly; use int32 or float64');
  });
  it('multinomial: arguments', () => {
    const p = tg.tensor([0.2, 0.8]);
    throws(() => tg.multinomial(tg.tensor([1, 2], { dtype: 'int32' }), 1), tg.DTypeError, 'multinomial: probs must be floating point; got int32');
    throws(() => tg.multinomial(tg.ones([2, 2, 2]), 1), tg.ShapeError, 'multinomial: probs must be 1-d or 2-d (one distribution per row); got shape [2, 2, 2]');
    throws(() => tg.multinomial(p, 0), tg.ValueError, 'multinomial: numSamples must be a positive integer; got 0');
    throws(() => tg.multinomial(p, 3), tg.ValueError, 'multinomial: cannot draw 3 samples without replacement from 2 categories (probs shape [2])');
  });
  it('multinomial: bad probabilities, found in the data', () => {
    for (const replacement of [false, true]) {
      throws(() => tg.multinomial(tg.tensor([0.2, -0.1]), 1, { replacement }), tg.ValueError, 'multinomial: probability tensor contains either inf, nan or element < 0: element [1] is -0.10000000149011612');
      throws(() => tg.multinomial(tg.tensor([[1, 1], [NaN, 1]]), 1, { replacement }), tg.ValueError, 'multinomial: probability tensor contains either inf, nan or element < 0: element [1, 0] is NaN');
      throws(() => tg.multinomial(tg.tensor([1, Infinity]), 1, { replacement }), tg.ValueError, 'multinomial: probability tensor contains either inf, nan or element < 0: element [1] is Infinity');
      throws(() => tg.multinomial(tg.tensor([[1, 1], [0, 0]]), 1, { replacement }), tg.ValueError, 'multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row 1');
    }
    throws(() => tg.multinomial(tg.tensor([0, 1, 0]), 2), tg.ValueError, 'multinomial: cannot draw 2 samples without replacement: only 1 categories have non-zero probability');
    throws(() => tg.multinomial(tg.tensor([[1, 1, 0], [0, 1, 0]]), 2), tg.ValueError, 'multinomial: cannot draw 2 samples without replacement in row 1: only 1 categories have non-zero probability');
  });
});
