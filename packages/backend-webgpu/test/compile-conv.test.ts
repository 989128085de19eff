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
      const x = ints([N, Cin, H, W]), w = ints([Cout, Cin / groups, 3, 3], -1, 2), b = ints([Cout], -1, 2);
      const f = (x: tg.Tensor, w: tg.Tensor, b: tg.Tensor) =>
        noGrad(() => {
          const c = F.conv2d(x, w, b, { padding: pad, groups });
          const y = act[a] ? act[a](c) : c;
          // without an activation the conv output is returned too: its rows past the last window checked
          return [...F.maxPool2dWithIndices(y, k as number), ...(act[a] ? [] : [y])];
        });
      const g = await sameAsEager(f, [x, w, b], `case ${i}`);
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
});
