import { ones, randn, tidy } from '@tapegrad/tensor';
import { defineSuite, speedup, type Cell } from '../harness.js';

// Reductions over views, beside PyTorch: a broadcast view of 2^31 elements (issue 15's
// `ones([1]).expand([2 ** 31]).sum()`, 35 s and 8 GB before reductions walked views in place)
// and the strided views a model's reductions meet: a transposed matrix, a stride-2 slice.
interface Case {
  name: string;
  ours: () => unknown;
  /** PyTorch's expression over the tensors `b` (broadcast source) and `m` (a 1024x1024 matrix). */
  torch: string;
}

export default defineSuite({
  name: 'reduce-views',
  async run(ctx) {
    const opts = { warmup: 2, reps: ctx.quick ? 3 : 11, minMs: 0 };
    const b = ones([1]);
    const m = randn([1024, 1024]);
    const cases: Case[] = [
      { name: 'sum of ones([1]).expand([2^31])', ours: () => b.expand([2 ** 31]).sum(), torch: 'b.expand(2**31).sum()' },
      { name: 'max of ones([1]).expand([2^31])', ours: () => b.expand([2 ** 31]).max(), torch: 'b.expand(2**31).max()' },
      { name: 'sum of a transposed 1024x1024, dim 0', ours: () => m.T.sum(0), torch: 'm.t().sum(0)' },
      { name: 'sum of a transposed 1024x1024, all', ours: () => m.T.sum(), torch: 'm.t().sum()' },
      { name: 'max of m[:, ::2], dim 1', ours: () => m.slice(1, 0, undefined, 2).max(1), torch: 'm[:, ::2].amax(1)' },
    ];
    const torch = ctx.torch<number[]>(`
b = torch.ones(1)
m = torch.randn(1024, 1024)
print(json.dumps([bench(lambda: ${cases.map((c) => c.torch).join(`, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0), bench(lambda: `)}, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0)]))
`);
    const rows: Cell[][] = [];
    for (const [i, c] of cases.entries()) {
      const ours = (await ctx.time(() => tidy(c.ours), opts)).median;
      rows.push([c.name, ours, torch?.[i], speedup(ours, torch?.[i])]);
    }
    b.dispose();
    m.dispose();
    return [{
      title: 'Reductions over views, float32: ms per call (lower is better)',
      columns: ['reduction', 'tapegrad', 'PyTorch', 'vs PyTorch'],
      rows,
      notes: [`PyTorch: ${torch ? 'torch CPU, default threads' : 'not available'}.`],
    }];
  },
});
