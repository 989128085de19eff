import '@tapegrad/backend-cpu';
import { randint, randn, rand, tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import {
  BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, Module, NLLLoss, SmoothL1Loss,
  functional as F,
} from '../src/index.js';

// The module forms call their functions with the options given at construction; weights are buffers.
describe('loss modules', () => {
  const x = randn([4, 3]);
  const y = randn([4, 3]);
  const p = rand([4, 3]);
  const t = randint(0, 3, [4], { dtype: 'int32' });
  const w = tensor([0.5, 1, 2]);
  const same = (a: { dataSync(): ArrayLike<number> }, b: { dataSync(): ArrayLike<number> }) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));

  it('forward equals the function with the same options', () => {
    same(new CrossEntropyLoss({ weight: w, labelSmoothing: 0.1, ignoreIndex: 1, reduction: 'sum' }).forward(x, t), F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1, ignoreIndex: 1, reduction: 'sum' }));
    same(new NLLLoss({ weight: w, reduction: 'none' }).forward(x, t), F.nllLoss(x, t, { weight: w, reduction: 'none' }));
    same(new MSELoss({ reduction: 'sum' }).forward(x, y), F.mseLoss(x, y, { reduction: 'sum' }));
    same(new L1Loss().forward(x, y), F.l1Loss(x, y));
    same(new SmoothL1Loss({ beta: 0.5 }).forward(x, y), F.smoothL1Loss(x, y, { beta: 0.5 }));
    same(new HuberLoss({ delta: 2 }).forward(x, y), F.huberLoss(x, y, { delta: 2 }));
    same(new BCELoss({ weight: w }).forward(p, p), F.binaryCrossEntropy(p, p, { weight: w }));
    same(new BCEWithLogitsLoss({ weight: w, posWeight: w }).forward(x, p), F.binaryCrossEntropyWithLogits(x, p, { weight: w, posWeight: w }));
    same(new KLDivLoss({ reduction: 'batchmean', logTarget: true }).forward(x, y), F.klDiv(x, y, { reduction: 'batchmean', logTarget: true }));
  });
  it('are Modules whose weights are buffers in the stateDict, with no parameters', () => {
    const ce = new CrossEntropyLoss({ weight: w.clone() });
    expect(ce).toBeInstanceOf(Module);
    expect(Object.keys(ce.stateDict())).toEqual(['weight']);
    expect(ce.parameters()).toEqual([]);
    expect(Object.keys(new BCEWithLogitsLoss({ posWeight: w.clone() }).stateDict())).toEqual(['pos_weight']);
    expect(Object.keys(new MSELoss().stateDict())).toEqual([]);
    expect(String(new CrossEntropyLoss({ labelSmoothing: 0.1 }))).toBe('CrossEntropyLoss(labelSmoothing=0.1)');
  });
});
