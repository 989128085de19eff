// `tapegrad/nn`, `tapegrad/nn/functional` and `tapegrad/optim` are tg.nn, tg.nn.functional and
// tg.optim as modules of their own (for bundlers that cannot drop a namespace's unused members
// when it is reached through another, as esbuild): the same names, bound to the same objects.
import { describe, expect, it } from 'vitest';
import * as tg from 'tapegrad';
import * as nn from 'tapegrad/nn';
import * as F from 'tapegrad/nn/functional';
import * as optim from 'tapegrad/optim';

describe('subpath entries', () => {
  it.each([
    ['tapegrad/nn', nn, tg.nn],
    ['tapegrad/nn/functional', F, tg.nn.functional],
    ['tapegrad/optim', optim, tg.optim],
  ] as [string, object, object][])('%s holds what the namespace holds', (_, mod, ns) => {
    expect(Object.keys(mod).sort()).toEqual(Object.keys(ns).sort());
    for (const [k, v] of Object.entries(ns)) expect((mod as Record<string, unknown>)[k], k).toBe(v);
  });

  it('a model built from them trains on the CPU', () => {
    tg.manualSeed(0);
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 1));
    const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
    const x = tg.rand([32, 2]);
    const y = x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1));
    const step = () => tg.tidy(() => {
      opt.zeroGrad();
      const loss = F.mseLoss(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.itemSync();
    });
    const first = step();
    let last = first;
    for (let i = 0; i < 200; i++) last = step();
    expect(last).toBeLessThan(first / 5);
  });
});
