// compile's combined convolution kernels on WebGPU (src/fuse.ts, kernels/conv.ts): conv2d with
// its epilogue and the max pool after it in one dispatch ('convPool'), and a convolution's input,
// weight and bias gradients, with the pool backward that reads the input gradient, in one
// ('convBackward'). Each computes every value as the eager kernels do, in the same order: the
// results are eager WebGPU's bits, and the CPU's where the arithmetic is exact (small integers).
import { expect, it } from 'vitest';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import { openDevice } from './helpers.js';

const { gpuDescribe } = await openDevice();
const F = nn.functional;

/** Small integers as float32: convolution sums are exact, so maxima tie often and the CPU's bits are the GPU's. */
const ints = (shape: number[], lo = -2, hi = 3) => tg.randint(lo, hi, shape).cast('float32');
const values = (ts: tg.Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.data())));

/** f compiled, three calls on WebGPU: each equals eager WebGPU's and the CPU's values bit for bit; returns the graph's stats. */
async function sameAsEager(f: (...xs: tg.Tensor[]) => tg.Tensor[], xs: tg.Tensor[], what: string) {
  const gs = xs.map((x) => x.to('webgpu'));
  const cpu = await values(tg.tidy(() => f(...xs)));
  const eager = await values(tg.tidy(() => f(...gs)));
  expect(eager, `${what}: eager WebGPU against the CPU`).toEqual(cpu);
  const c = tg.compile(f);
  for (let i = 0; i < 3; i++) expect(await values(c(...gs)), `${what}: call ${i}`).toEqual(eager);
  return c.stats().graphs.at(-1)!;
}

gpuDescribe('combined convolution kernels on WebGPU', () => {
  const act = { relu: F.relu, leakyRelu: (x: tg.Tensor) => F.leakyRelu(x, 0.25), none: undefined };
  it('conv2d, its activation and a tiling max pool in one dispatch: odd sizes, channels past a thread\'s run, ties, groups', async () => {
    for (const [i, [N, Cin, H, W, Cout, pad, a, k, groups]] of ([
      // odd H and W: the pool drops the last row and column, which the conv still stores
      [2, 3, 9, 7, 6, 1, 'relu', 2, 1],
      [1, 2, 10, 11, 5, 0, 'leakyRelu', 3, 1],
      [3, 4, 6, 6, 4, 1, 'none', 2, 2],
      [2, 1, 5, 8, 9, 1, 'relu', [2, 3], 1],
    ] as const).entries()) {
      tg.manualSeed(100 + i);
      // case 0 has a NaN: the windows its outputs reach take it as their maximum, as eager's pool does
      const x = i === 0 ? ints([N, Cin, H, W]).where(tg.arange(N * Cin * H * W).reshape([N, Cin, H, W]).ne(40), NaN) : ints([N, Cin, H, W]);
      const w = ints([Cout, Cin / groups, 3, 3], -1, 2), b = ints([Cout], -1, 2);
      const f = (x: tg.Tensor, w: tg.Tensor, b: tg.Tensor) =>
        noGrad(() => {
          const c = F.conv2d(x, w, b, { padding: pad, groups });
          const y = act[a] ? act[a](c) : c;
          // without an activation the conv output is returned too: its rows past the last window checked
          return [...F.maxPool2dWithIndices(y, k as number), ...(act[a] ? [] : [y])];
        });
      const g = await sameAsEager(f, [x, w, b], `case ${i}`);
      expect((await values(tg.tidy(() => f(x, w, b))))[0]!.some(Number.isNaN), `case ${i}: a NaN maximum`).toBe(i === 0);
      expect([g.fused, g.kernels], `case ${i}`).toEqual([[a === 'none' ? 'fused(conv2d,maxPool2d)' : `fused(conv2d,${a},maxPool2d)`], 1]);
    }
  });

  it('pools that do not tile the output keep conv2d and maxPool2d apart: overlapping, padded, dilated, ceil mode; a reader between them too', async () => {
    tg.manualSeed(110);
    const x = ints([2, 3, 9, 9]), w = ints([5, 3, 3, 3], -1, 2);
    for (const [what, k, options] of [
      ['overlapping', 2, { stride: 1 }],
      ['padded', 2, { padding: 1 }],
      ['dilated', 2, { dilation: 2, stride: 2 }],
      // a last window past the edge (9 rows: 3 windows of 4)
      ['ceil mode', 4, { ceilMode: true }],
    ] as const) {
      const f = (x: tg.Tensor, w: tg.Tensor) => noGrad(() => F.maxPool2dWithIndices(F.relu(F.conv2d(x, w, null, { padding: 1 })), k, options));
      const g = await sameAsEager(f, [x, w], what);
      expect(g.fused, what).toEqual(['fused(conv2d,relu)']);
    }
    // the sum reads the activation between the conv (where it is written) and the pool (where the combined kernel would run)
    const between = (x: tg.Tensor, w: tg.Tensor) =>
      noGrad(() => {
        const y = F.relu(F.conv2d(x, w, null, { padding: 1 }));
        const s = y.sum();
        return [s, F.maxPool2d(y, 2)];
      });
    const g = await sameAsEager(between, [x, w], 'a reader between');
    expect(g.fused).not.toContain('fused(conv2d,relu,maxPool2d)');
  });

  /** conv1 (+ act), a pool, conv2, backward from g: the four parameters' gradients, eager and compiled. */
  const twoConvs = (act: ((x: tg.Tensor) => tg.Tensor) | undefined, pool: ((x: tg.Tensor) => tg.Tensor) | undefined, groups = 1) =>
    (x: tg.Tensor, g: tg.Tensor, w1: tg.Tensor, b1: tg.Tensor, w2: tg.Tensor, b2: tg.Tensor) => {
      const ps = [w1, b1, w2, b2].map((p) => p.detach().requiresGrad_());
      const c1 = F.conv2d(x, ps[0]!, ps[1]!, { padding: 1 });
      const h = (pool ?? ((t) => t))(act ? act(c1) : c1);
      F.conv2d(h, ps[2]!, ps[3]!, { padding: 1, groups }).backward(g);
      return ps.map((p) => {
        const grad = p.grad!;
        p.grad = null;
        return grad;
      });
    };
  it("a convolution's input, weight and bias gradients and the pool backward after them in one dispatch: odd sizes, ties, other activations, groups", async () => {
    for (const [i, [N, C0, H, W, C1, C2, a, k, groups]] of ([
      [2, 3, 9, 7, 6, 5, 'relu', 2, 1],
      [1, 2, 10, 11, 5, 3, 'leakyRelu', 3, 1],
      [3, 1, 8, 8, 4, 6, 'none', 2, 2],
      [2, 2, 7, 9, 3, 4, 'relu', [2, 3], 1],
    ] as const).entries()) {
      tg.manualSeed(120 + i);
      const kk = typeof k === 'number' ? [k, k] : k;
      const [PH, PW] = [Math.floor(H / kk[0]), Math.floor(W / kk[1])];
      const x = ints([N, C0, H, W]), g = ints([N, C2, PH, PW]);
      const params = [ints([C1, C0, 3, 3], -1, 2), ints([C1], -1, 2), ints([C2, C1 / groups, 3, 3], -1, 2), ints([C2], -1, 2)];
      const f = twoConvs(act[a], (t) => F.maxPool2d(t, k as number), groups);
      const st = await sameAsEager(f, [x, g, ...params], `case ${i}`);
      const pool = a === 'none' ? 'maxPool2dBackward' : `maxPool2dBackward,${a}Backward`;
      // conv1 with its pool, conv2, conv2's gradients with the pool's backward, conv1's weight and bias gradients
      const fused = [`fused(conv2d,${a === 'none' ? '' : `${a},`}maxPool2d)`, `fused(conv2dInputGrad,conv2dWeightGrad,sum,${pool})`, 'fused(conv2dWeightGrad,sum)'];
      // leakyRelu's backward reads its input, the conv's output: conv2d, leakyRelu and the pool stay three kernels
      const leaky = a === 'leakyRelu';
      expect([st.fused, st.kernels], `case ${i}`).toEqual([leaky ? fused.slice(1) : fused, leaky ? 6 : 4]);
    }
  });

  it('without a tiling pool after it, the three gradients still combine, and the pool backward stays apart', async () => {
    tg.manualSeed(130);
    const x = ints([2, 3, 9, 9]), params = [ints([4, 3, 3, 3], -1, 2), ints([4], -1, 2), ints([5, 4, 3, 3], -1, 2), ints([5], -1, 2)];
    for (const [what, pool, size, groups] of [
      ['no pool', undefined, 9, ['fused(conv2dInputGrad,conv2dWeightGrad,sum)', 'fused(conv2dWeightGrad,sum)']],
      ['an overlapping pool', (t: tg.Tensor) => F.maxPool2d(t, 3, { stride: 2 }), 4, ['fused(maxPool2dBackward,reluBackward)', 'fused(conv2dInputGrad,conv2dWeightGrad,sum)']],
    ] as const) {
      const g = ints([2, 5, size, size]);
      const st = await sameAsEager(twoConvs(F.relu, pool, 1), [x, g, ...params], what);
      for (const name of groups) expect(st.fused, what).toContain(name);
    }
  });

  it("one output gradient shared by two convolutions of different shapes: one's input gradient does not combine with the other's weight gradient", async () => {
    tg.manualSeed(140);
    // y = conv(a, w1) + conv(b, w2), a with 3 channels and b with 5: the kernels by name, in an order that puts conv(b)'s input gradient first
    const G = ints([2, 4, 6, 6]), w1 = ints([4, 3, 3, 3], -1, 2), a = ints([2, 3, 6, 6]), w2 = ints([4, 5, 3, 3], -1, 2);
    const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const f = (G: tg.Tensor, w1: tg.Tensor, a: tg.Tensor, w2: tg.Tensor) =>
      noGrad(() => [tg.run('conv2dInputGrad', [G, w2], { ...attrs, shape: [2, 5, 6, 6] }), tg.run('conv2dWeightGrad', [a, G], { ...attrs, shape: w1.shape }), G.sum([0, 2, 3])]);
    const st = await sameAsEager(f, [G, w1, a, w2], 'shared gradient');
    expect(st.fused).toEqual(['fused(conv2dWeightGrad,sum)']);
  });
});
