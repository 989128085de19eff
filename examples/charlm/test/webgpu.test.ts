import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initWebGPU } from 'tapegrad';
import { loadCorpus } from '../src/corpus.js';
import { sample } from '../src/sample.js';
import { train } from '../src/train.js';

// Both models train on WebGPU as on the CPU (same seed, same batches), and sample there. Without
// an adapter this skips, unless TAPEGRAD_REQUIRE_WEBGPU=1 (CI), where that is a failure.
let why = '';
const ok = await initWebGPU().then(() => true, (e: Error) => ((why = e.message), false));
if (!ok && process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => expect.fail(why));

(ok ? describe : describe.skip)('training on WebGPU', () => {
  const corpus = loadCorpus({ trainChars: 50_000, valChars: 5_000 });
  for (const model of ['lstm', 'transformer'] as const) {
    it(`a ${model} gives the CPU's losses, and samples there`, async () => {
      const opts = {
        config: { model, context: 16, dim: 32, layers: 2, heads: 2 }, corpus, steps: 20, batchSize: 8, lr: 1e-2, warmup: 5,
        weightDecay: 0.01, clip: 1, seed: 3, evalEvery: 10, evalWindows: 32, lossEvery: 2,
      } as const;
      const a = await train(opts);
      const b = await train({ ...opts, device: 'webgpu' });
      expect(b.model.parameters()[0]!.device).toBe('webgpu');
      expect(b.history.train).toHaveLength(10);
      b.history.train.forEach(([, l], i) => expect(l).toBeCloseTo(a.history.train[i]![1], 2));
      b.history.val.forEach(([, l], i) => expect(l).toBeCloseTo(a.history.val[i]![1], 2));
      const text = await sample(b.model, corpus.vocab, { prompt: 'The ', length: 20, topK: 5, seed: 1 });
      expect(text).toHaveLength(20);
      a.model.dispose();
      b.model.dispose();
    });
  }

  it('TAPEGRAD_DEVICE=webgpu pnpm example:charlm trains and samples on WebGPU', () => {
    const out = mkdtempSync(join(tmpdir(), 'tapegrad-charlm-'));
    try {
      const r = spawnSync(
        process.execPath,
        ['--conditions=@tapegrad/source', '--import', 'tsx', 'src/main.ts', '--model', 'transformer', '--steps', '10', '--train-chars', '20000', '--dim', '32', '--context', '16', '--batch-size', '8', '--length', '20', '--out', out],
        { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, TAPEGRAD_DEVICE: 'webgpu' }, encoding: 'utf8' },
      );
      expect(r.stderr).not.toMatch(/^charlm:/m);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/10 steps of 8 x 16 characters on webgpu/);
      expect(r.stdout).toMatch(/validation loss: +\d\.\d{3} nats\/char/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
