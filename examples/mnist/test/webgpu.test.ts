import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { data, initWebGPU, toAsync } from 'tapegrad';
import { train, type Split } from '../src/train.js';

// The MLP trains on WebGPU exactly as on the CPU (same seed, same batches). Without an adapter
// this skips, unless TAPEGRAD_REQUIRE_WEBGPU=1 (CI), where that is a failure.
let why = '';
const ok = await initWebGPU().then(() => true, (e: Error) => ((why = e.message), false));
if (!ok && process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => expect.fail(why));

(ok ? describe : describe.skip)('training on WebGPU', () => {
  it('gives the CPU losses and accuracy', async () => {
    const cpuTrain = await data.loadMnist({ split: 'train', normalize: true, limit: 320 });
    const cpuTest = await data.loadMnist({ split: 'test', normalize: true, limit: 200 });
    const gpu = async (s: Split): Promise<Split> => ({ images: await toAsync(s.images, 'webgpu'), labels: await toAsync(s.labels, 'webgpu') });
    const opts = { model: 'mlp', optimizer: 'adam', lr: 0.002, epochs: 1, batchSize: 32, seed: 3, lossEvery: 2 } as const;
    const a = await train({ ...opts, train: cpuTrain, test: cpuTest });
    const b = await train({ ...opts, device: 'webgpu', train: await gpu(cpuTrain), test: await gpu(cpuTest) });
    expect(b.model.parameters()[0]!.device).toBe('webgpu');
    b.history.losses.forEach(([, l], i) => expect(l).toBeCloseTo(a.history.losses[i]![1], 3));
    expect(b.history.epochs[0]!.testAccuracy).toBeCloseTo(a.history.epochs[0]!.testAccuracy, 2);
  });

  it('--compile on WebGPU trains to eager WebGPU\'s losses and accuracy, bit for bit (its replayer: one command buffer a step)', async () => {
    const gpu = async (s: Split): Promise<Split> => ({ images: await toAsync(s.images, 'webgpu'), labels: await toAsync(s.labels, 'webgpu') });
    const trainSet = await gpu(await data.loadMnist({ split: 'train', normalize: true, limit: 320 }));
    const testSet = await gpu(await data.loadMnist({ split: 'test', normalize: true, limit: 200 }));
    for (const [model, optimizer] of [['mlp', 'adam'], ['cnn', 'sgd']] as const) {
      const run = (compile: boolean) => train({ model, optimizer, lr: 0.01, epochs: 1, batchSize: 32, seed: 2, lossEvery: 1, compile, device: 'webgpu', train: trainSet, test: testSet });
      const eager = await run(false);
      const compiled = await run(true);
      expect(compiled.history.losses.length).toBe(10);
      expect(compiled.history.losses).toEqual(eager.history.losses);
      expect(compiled.history.epochs[0]!.testAccuracy).toBe(eager.history.epochs[0]!.testAccuracy);
      // the first step makes the optimizer's state, the second traces the step: the rest replay
      expect([compiled.compiled!.traces, compiled.compiled!.replays]).toEqual([2, 8]);
      eager.model.dispose();
      compiled.model.dispose();
    }
  });

  it('TAPEGRAD_DEVICE=webgpu pnpm mnist trains on WebGPU (data loaded there, not moved off it)', () => {
    const out = mkdtempSync(join(tmpdir(), 'tapegrad-mnist-'));
    try {
      const r = spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', 'src/main.ts', '--limit', '128', '--epochs', '1', '--out', out], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, TAPEGRAD_DEVICE: 'webgpu' },
        encoding: 'utf8',
      });
      expect(r.stderr).not.toMatch(/^mnist:/m);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/epoch\(s\) of 128 images on webgpu/);
      expect(r.stdout).toMatch(/test accuracy \d+\.\d+% in/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
