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
});
