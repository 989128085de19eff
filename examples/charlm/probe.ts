import { loadCorpus } from './src/corpus.js';
import { train } from './src/train.js';
const corpus = loadCorpus({ trainChars: 200_000, valChars: 20_000 });
for (const [model, dim, layers, lr, steps] of [['lstm', 64, 1, 1e-2, 80], ['transformer', 32, 1, 1e-2, 80]] as const) {
  const t0 = performance.now();
  const r = await train({ config: { model, context: 32, dim, layers, heads: 2 }, corpus, steps, batchSize: 16, lr, warmup: 10, weightDecay: 0.01, clip: 1, seed: 1, evalEvery: steps, evalWindows: 128 });
  console.log(model, 'val', r.valLoss.toFixed(3), 'baseline', r.baseline.toFixed(3), r.trainSeconds.toFixed(1) + 's', ((performance.now() - t0) / 1000).toFixed(1) + 's total');
}
